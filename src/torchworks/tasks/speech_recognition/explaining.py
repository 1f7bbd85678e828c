"""Which parts of a clip the transcript rests on: saliency (Captum) over the log-mel spectrogram.

What is explained is the model's log-likelihood of the transcript: CTC's sum over every alignment
of the transcript to the frames, for the transcript the model writes with its own decoder (or the
text given as ``target``). Saliency is the size of its gradient with respect to each feature
(frame x mel band); each frame's importance is its share of the total.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from torchworks.attribution.explainer import Explainer, Explanation, Presentation, Row, Target, explain_rows
from torchworks.attribution.values import rounded
from torchworks.errors import ConfigError

def explain_clips(model: nn.Module, inputs: dict[str, torch.Tensor], ids: list[dict[str, Any]],
                  state: dict[str, Any], method: str, target: str | None, options: dict[str, str]) -> list[Explanation]:
    """One explanation per clip (or piece of a long clip) of the batch ``{"features", "lengths"}``."""
    from torchworks.tasks.speech_recognition.decoding import decode, lexicon_of
    from torchworks.tasks.speech_recognition.vocabulary import Vocabulary

    vocabulary = Vocabulary(state["tokens"])

    def predict(model: nn.Module, row: Row) -> tuple[dict[str, Any], Target]:
        log_probs = model(row.inputs).float()
        (heard,) = decode(log_probs.cpu(), vocabulary, state.get("decoder", "beam"), state.get("beam_width", 16),
                          lexicon_of(state))
        return {"transcript": heard}, Target(heard, heard)

    def saliency(model: nn.Module, row: Row, target: Target, options: dict[str, str]):
        return _saliency(model, row, vocabulary.encode(target.value))

    def present(row: Row, record: dict[str, Any], saliency: torch.Tensor, details: dict[str, Any]) -> Presentation:
        frame_seconds = state["hop_length"] / state["sample_rate"]
        total = float(saliency.sum()) or 1.0
        attributions = {**details, "frames": int(saliency.shape[0]), "frame_seconds": frame_seconds,
                        "per_frame": rounded((saliency.sum(dim=1) / total).numpy()),
                        "per_band": rounded((saliency.sum(dim=0) / total).numpy())}
        figure = _figure(_features(row)[0].detach().float().cpu(), saliency, record["target"], frame_seconds)
        peak = int(saliency.sum(dim=1).argmax()) * state["hop_length"] / state["sample_rate"]
        summary = f"heard '{record['prediction']['transcript']}'; saliency for '{record['target']}' peaks at {peak:.2f} s"
        return Presentation(attributions, {"saliency": figure}, summary=summary)

    explainer = Explainer(describe=_describe, predict=predict,
                          resolve_target=lambda text: _transcript(text, vocabulary),
                          attributors={"saliency": saliency}, present=present)
    return explain_rows(explainer, model, inputs, ids, method, target, options)


def _describe(origin: dict[str, Any]) -> dict[str, Any]:
    """The record's facts about a clip: its file, and which piece of it when it was cut into pieces."""
    pieces = {"piece": origin["piece"] + 1, "pieces": origin["pieces"]} if origin.get("pieces", 1) > 1 else {}
    return {"input": origin["input"], **pieces}


def _features(row: Row) -> torch.Tensor:
    """The clip's log-mel features (1 x frames x bands), padding cut off."""
    return row.inputs["features"][:, : int(row.inputs["lengths"][0])]


def _saliency(model: nn.Module, row: Row, tokens: list[int]) -> tuple[torch.Tensor, dict[str, Any]]:
    """Saliency (frames x bands) of the transcript's log-likelihood, and that log-likelihood."""
    from captum.attr import Saliency

    features, lengths = _features(row), row.inputs["lengths"]
    scored = _log_likelihood(model, tokens, zero_infinity=True)  # no NaN gradients where CTC cannot align
    saliency = Saliency(scored).attribute(features.detach().clone().requires_grad_(),
                                          additional_forward_args=(lengths,), abs=True)[0]
    with torch.no_grad():
        likelihood = float(_log_likelihood(model, tokens, zero_infinity=False)(features, lengths)[0])
    return saliency.detach().float().cpu(), {
        "log_likelihood": float(f"{likelihood:.6g}") if math.isfinite(likelihood) else None}


def _transcript(target: str, vocabulary: Any) -> Target:
    """The transcript ``target``, checked against what the model can write."""
    from torchworks.tasks.speech_recognition.vocabulary import normalise

    text = normalise(str(target))
    missing = vocabulary.missing(text)
    if missing:
        raise ConfigError(f"the target transcript '{target}' has characters the model cannot write",
                          expected="only " + "".join(t for t in vocabulary.tokens[2:]) + " and spaces",
                          got="".join(sorted(missing)), hint="write the transcript in the model's characters")
    return Target(text, text)


def _log_likelihood(model: nn.Module, tokens: list[int], zero_infinity: bool):
    """``(features, lengths) -> log P(transcript)`` per clip, under the model's CTC output; a
    transcript too long for the clip has probability 0 (-inf), or 0 with ``zero_infinity``."""
    from torchworks.tasks.speech_recognition.models import output_lengths

    def forward(features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        log_probs = model({"features": features, "lengths": lengths}).float()
        with torch.no_grad():
            frames = output_lengths(log_probs)
        targets = torch.tensor(tokens * len(features), dtype=torch.long, device=features.device)
        target_lengths = torch.full((len(features),), len(tokens), dtype=torch.long, device=features.device)
        return -F.ctc_loss(log_probs.transpose(0, 1), targets, frames, target_lengths, blank=0, reduction="none",
                           zero_infinity=zero_infinity)

    return forward


def _figure(features: torch.Tensor, saliency: torch.Tensor, transcript: str, frame_seconds: float):
    """The spectrogram with its saliency, smoothed over 4 frames x 2 bands for the eye: the front
    end's strided convolutions leave a checkerboard in raw gradients (the JSON keeps them raw)."""
    from torchworks.attribution.figures import map_with_profile

    frames, bands = saliency.shape
    smooth = F.avg_pool2d(saliency[None, None], (4, 2), stride=1, padding=(2, 1), count_include_pad=False)
    smooth = smooth[0, 0, :frames, :bands]
    profile = smooth.sum(dim=1) / (float(smooth.sum()) or 1.0)
    title = f"'{transcript}': saliency over the log-mel spectrogram (smoothed)"
    return map_with_profile(features.T.numpy(), smooth.T.numpy(), profile.numpy(), frame_seconds, title, "mel band")
