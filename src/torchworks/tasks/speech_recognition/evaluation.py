"""Word and character error rates (torchmetrics) for greedy and beam decoding, the worst clips (with
players for their audio) and a sample of transcripts, right and wrong.

The metric names say the decoding: ``wer_greedy``, ``wer_beam`` (beam search free over the
characters) and, when the run has a lexicon, ``wer_beam_lexicon`` (beam search held to its words);
``wer`` and ``cer`` are those of the run's ``decoder`` setting (``beam`` decodes with the lexicon
when there is one)."""

from __future__ import annotations

import io
import random
import wave
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.functional.text import char_error_rate, word_error_rate

from torchworks.report.html import Media
from torchworks.report.plots import bar_chart
from torchworks.tasks.protocol import Evaluation
from torchworks.tasks.speech_recognition.decoding import beam_decode, greedy_decode, lexicon_of
from torchworks.tasks.speech_recognition.vocabulary import Vocabulary

SHOWN = 20
PLAYED = 10  # the worst clips get an audio player in the report; the page stays small
PLAYED_SECONDS = 20.0  # longer clips are cut to this for the player
SAMPLED = 10
DECODINGS = {"greedy": "greedy", "beam": "beam", "beam_lexicon": "beam + lexicon"}


def decoding_of(decoder: str, has_lexicon: bool) -> str:
    """The metric suffix of a ``decoder`` setting: ``greedy``, ``beam``, or ``beam_lexicon`` (beam
    search decodes with the lexicon whenever the run has one)."""
    if decoder == "beam" and has_lexicon:
        return "beam_lexicon"
    return decoder


def evaluate_transcripts(log_probs: torch.Tensor, references: list[str], files: list[str], state: dict[str, Any],
                         decoder: str, beam_width: int, clips: Any = None) -> Evaluation:
    """``wer``/``cer`` of the configured decoder, plus ``wer_greedy``, ``wer_beam`` (lexicon-free) and,
    with a lexicon, ``wer_beam_lexicon`` (and ``cer_*``) side by side, to show what each adds.

    Args:
        clips: The test clips (``clips.clips[i]``: 16-bit samples at ``state["sample_rate"]``) for
            the players of the worst clips; None for none.
    """
    vocabulary = Vocabulary(state["tokens"])
    lexicon = lexicon_of(state)
    hypotheses = {"greedy": greedy_decode(log_probs, vocabulary), "beam": beam_decode(log_probs, vocabulary, beam_width)}
    if lexicon is not None:
        hypotheses["beam_lexicon"] = beam_decode(log_probs, vocabulary, beam_width, lexicon)
    chosen_name = decoding_of(decoder, lexicon is not None)
    metrics: dict[str, Any] = {}
    for name, texts in hypotheses.items():
        metrics[f"wer_{name}"] = float(word_error_rate(texts, references))
        metrics[f"cer_{name}"] = float(char_error_rate(texts, references))
    metrics = {"wer": metrics[f"wer_{chosen_name}"], "cer": metrics[f"cer_{chosen_name}"], **metrics,
               "test_clips": len(references), "decoder": decoder,
               "lexicon_words": len(lexicon) if lexicon is not None else 0}
    rows = []
    for index, (file, reference, hypothesis) in enumerate(zip(files, references, hypotheses[chosen_name])):
        rows.append({"index": index, "file": Path(file).name, "reference": reference,
                     "hypothesis": hypothesis or "(nothing recognised)",
                     "wer": float(word_error_rate([hypothesis], [reference]))})
    wrong = sorted((row for row in rows if row["wer"] > 0), key=lambda r: -r["wer"])
    figures = {"error_rates": bar_chart({f"{kind.upper()} {DECODINGS[name]}": metrics[f"{kind}_{name}"]
                                         for kind in ("wer", "cer") for name in hypotheses},
                                        "Error rates (test)", "rate", None)}
    how = f"{DECODINGS[chosen_name]} decoding"
    worst = [_with_player(row, clips, state, played=position < PLAYED) for position, row in enumerate(wrong[:SHOWN])]
    tables = {f"Worst test clips ({how}; {len(wrong)} of {len(references)} have errors)": worst}
    sample = _sample(rows)
    if sample:
        tables[f"Sample test transcripts, right and wrong ({how}; drawn at random)"] = sample
    return Evaluation(metrics, figures, tables)


def _with_player(row: dict[str, Any], clips: Any, state: dict[str, Any], played: bool) -> dict[str, Any]:
    shown = {key: value for key, value in row.items() if key != "index"}
    if clips is None:
        return shown
    audio = Media("audio/wav", wav_bytes(clips.clips[row["index"]], state["sample_rate"]), row["file"]) \
        if played else ""
    return {"audio": audio, **shown}


def _sample(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Up to ``SAMPLED`` transcripts drawn at random (seeded), half exact and half with errors where
    there are enough, in test order."""
    chooser = random.Random(0)
    right = [row for row in rows if row["wer"] == 0]
    wrong = [row for row in rows if row["wer"] > 0]
    take_wrong = min(len(wrong), max(SAMPLED // 2, SAMPLED - len(right)))
    chosen = chooser.sample(wrong, take_wrong) + chooser.sample(right, min(len(right), SAMPLED - take_wrong))
    return [{"result": "right" if row["wer"] == 0 else "wrong",
             **{key: value for key, value in row.items() if key != "index"}}
            for row in sorted(chosen, key=lambda r: r["index"])]


def wav_bytes(samples: np.ndarray, sample_rate: int, seconds: float = PLAYED_SECONDS) -> bytes:
    """Mono samples (16-bit integers, or floats in [-1, 1]) as a 16-bit PCM WAV file, cut to ``seconds``."""
    samples = np.asarray(samples)[: int(seconds * sample_rate)]
    if samples.dtype.kind == "f":
        samples = np.clip(samples, -1.0, 1.0) * 32767.0
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(sample_rate)
        file.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()


class GreedyWER(Metric):
    """Word error rate of greedy decoding, accumulated over validation batches."""

    full_state_update = False

    def __init__(self, tokens: list[str]):
        super().__init__()
        self.vocabulary = Vocabulary(tokens)
        self.add_state("errors", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("words", default=torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, log_probs: torch.Tensor, targets: torch.Tensor) -> None:
        hypotheses = greedy_decode(log_probs.detach().float().cpu(), self.vocabulary)
        references = [self.vocabulary.decode(row[row > 0].tolist()) for row in targets.cpu()]
        for hypothesis, reference in zip(hypotheses, references):
            words = max(1, len(reference.split()))
            self.errors += float(word_error_rate([hypothesis], [reference])) * words
            self.words += words

    def compute(self) -> torch.Tensor:
        return self.errors / self.words.clamp_min(1.0)
