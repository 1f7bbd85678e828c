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

from torchworks.errors import ConfigError
from torchworks.attribution.values import rounded
from torchworks.tasks.protocol import Explanation



def explain_clips(model: nn.Module, inputs: dict[str, torch.Tensor], ids: list[dict[str, Any]],
                  state: dict[str, Any], method: str, target: str | None, options: dict[str, str]) -> list[Explanation]:
    """One explanation per clip (or piece of a long clip) of the batch ``{"features", "lengths"}``."""
    from captum.attr import Saliency

    from torchworks.tasks.speech_recognition.decoding import decode, lexicon_of
    from torchworks.tasks.speech_recognition.vocabulary import Vocabulary

    vocabulary = Vocabulary(state["tokens"])
    with torch.no_grad():
        log_probs = model(inputs).float()
    heard = decode(log_probs.cpu(), vocabulary, state.get("decoder", "beam"), state.get("beam_width", 16),
                   lexicon_of(state))
    explanations = []
    for row, origin in enumerate(ids):
        length = int(inputs["lengths"][row])
        features = inputs["features"][row : row + 1, :length]
        lengths = inputs["lengths"][row : row + 1]
        transcript = _transcript(target, heard[row], vocabulary)
        tokens = vocabulary.encode(transcript)
        scored = _log_likelihood(model, tokens, zero_infinity=True)  # no NaN gradients where CTC cannot align
        saliency = Saliency(scored).attribute(features.detach().clone().requires_grad_(),
                                              additional_forward_args=(lengths,), abs=True)[0]
        saliency = saliency.detach().float().cpu()
        with torch.no_grad():
            likelihood = float(_log_likelihood(model, tokens, zero_infinity=False)(features, lengths)[0])
        record = _record(origin, heard[row], transcript, method, saliency, likelihood, state)
        figure = _figure(features[0].detach().float().cpu(), saliency, record, state)
        per_frame = saliency.sum(dim=1)
        peak = int(per_frame.argmax()) * state["hop_length"] / state["sample_rate"]
        summary = f"heard '{heard[row]}'; saliency for '{transcript}' peaks at {peak:.2f} s"
        explanations.append(Explanation(record, {"saliency": figure}, summary=summary))
    return explanations


def _transcript(target: str | None, heard: str, vocabulary: Any) -> str:
    """The transcript to explain: ``target`` (checked against what the model can write) or ``heard``."""
    from torchworks.tasks.speech_recognition.vocabulary import normalise

    if target is None or target == "":
        return heard
    text = normalise(str(target))
    missing = vocabulary.missing(text)
    if missing:
        raise ConfigError(f"the target transcript '{target}' has characters the model cannot write",
                          expected="only " + "".join(t for t in vocabulary.tokens[2:]) + " and spaces",
                          got="".join(sorted(missing)), hint="write the transcript in the model's characters")
    return text


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


def _record(origin: dict[str, Any], heard: str, transcript: str, method: str, saliency: torch.Tensor,
            likelihood: float, state: dict[str, Any]) -> dict[str, Any]:
    total = float(saliency.sum()) or 1.0
    return {
        "input": origin["input"],
        **({"piece": origin["piece"] + 1, "pieces": origin["pieces"]} if origin.get("pieces", 1) > 1 else {}),
        "prediction": {"transcript": heard},
        "method": method,
        "target": transcript,
        "attributions": {
            "log_likelihood": float(f"{likelihood:.6g}") if math.isfinite(likelihood) else None,
            "frames": int(saliency.shape[0]),
            "frame_seconds": state["hop_length"] / state["sample_rate"],
            "per_frame": rounded((saliency.sum(dim=1) / total).numpy()),
            "per_band": rounded((saliency.sum(dim=0) / total).numpy()),
        },
    }


def _figure(features: torch.Tensor, saliency: torch.Tensor, record: dict[str, Any], state: dict[str, Any]):
    """The spectrogram with its saliency, smoothed over 4 frames x 2 bands for the eye: the front
    end's strided convolutions leave a checkerboard in raw gradients (the JSON keeps them raw)."""
    from torchworks.attribution.figures import map_with_profile

    frames, bands = saliency.shape
    smooth = F.avg_pool2d(saliency[None, None], (4, 2), stride=1, padding=(2, 1), count_include_pad=False)
    smooth = smooth[0, 0, :frames, :bands]
    profile = smooth.sum(dim=1) / (float(smooth.sum()) or 1.0)
    title = f"'{record['target']}': saliency over the log-mel spectrogram (smoothed)"
    return map_with_profile(features.T.numpy(), smooth.T.numpy(), profile.numpy(),
                            record["attributions"]["frame_seconds"], title, "mel band")
