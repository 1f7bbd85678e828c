"""Word and character error rates (torchmetrics) for greedy and beam decoding, and the worst clips."""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics import Metric
from torchmetrics.functional.text import char_error_rate, word_error_rate

from torchworks.report.plots import bar_chart
from torchworks.tasks.protocol import Evaluation
from torchworks.tasks.speech_recognition.decoding import beam_decode, greedy_decode, lexicon_of
from torchworks.tasks.speech_recognition.vocabulary import Vocabulary

SHOWN = 20


def evaluate_transcripts(log_probs: torch.Tensor, references: list[str], files: list[str], state: dict[str, Any],
                         decoder: str, beam_width: int) -> Evaluation:
    """wer/cer of the configured decoder, plus wer_greedy/wer_beam (and cer_*) side by side; with a
    lexicon, also lexicon-free beam search (``*_beam_free``), to show what the lexicon adds."""
    vocabulary = Vocabulary(state["tokens"])
    lexicon = lexicon_of(state)
    hypotheses = {"greedy": greedy_decode(log_probs, vocabulary),
                  "beam": beam_decode(log_probs, vocabulary, beam_width, lexicon)}
    if lexicon is not None:
        hypotheses["beam_free"] = beam_decode(log_probs, vocabulary, beam_width)
    metrics: dict[str, Any] = {}
    for name, texts in hypotheses.items():
        metrics[f"wer_{name}"] = float(word_error_rate(texts, references))
        metrics[f"cer_{name}"] = float(char_error_rate(texts, references))
    metrics = {"wer": metrics[f"wer_{decoder}"], "cer": metrics[f"cer_{decoder}"], **metrics,
               "test_clips": len(references), "decoder": decoder,
               "lexicon_words": len(lexicon) if lexicon is not None else 0}
    chosen = hypotheses[decoder]
    rows = []
    for file, reference, hypothesis in zip(files, references, chosen):
        errors = float(word_error_rate([hypothesis], [reference]))
        if errors > 0:
            rows.append({"file": file, "reference": reference, "hypothesis": hypothesis, "wer": round(errors, 3)})
    rows.sort(key=lambda r: -r["wer"])
    names = {"greedy": "greedy", "beam": "beam + lexicon" if lexicon is not None else "beam", "beam_free": "beam"}
    figures = {"error_rates": bar_chart({f"{kind.upper()} {names[name]}": metrics[f"{kind}_{name}"]
                                         for kind in ("wer", "cer") for name in hypotheses},
                                        "Error rates (test)", "rate", None)}
    how = f"{names[decoder]} decoding"
    tables = {f"Worst test clips ({how}; {len(rows)} of {len(references)} have errors)": rows[:SHOWN]}
    return Evaluation(metrics, figures, tables)


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
