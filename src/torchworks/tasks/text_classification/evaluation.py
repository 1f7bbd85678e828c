"""Test-set metrics (torchmetrics), figures and tables for single- and multi-label text classification."""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics.functional.classification import (
    multilabel_auroc,
    multilabel_exact_match,
    multilabel_f1_score,
    multilabel_hamming_distance,
    multilabel_precision,
    multilabel_recall,
)

from torchworks.families.classification import SHOWN_MISTAKES, SHOWN_SAMPLES, Prediction, PredictionView
from torchworks.metrics.classification import classification_metrics
from torchworks.report.plots import bar_chart
from torchworks.tasks.protocol import Evaluation


SAMPLES_HEADING = "Sample test predictions, right and wrong (drawn at random)"


def mistaken_texts(texts: list[str]) -> PredictionView:
    """A view of single-label mistakes as a table of the test texts the model got wrong."""

    def show(mistakes: list[Prediction]) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
        rows = [{"text": _short(texts[m.index]), "actual": m.actual, "predicted": m.predicted,
                 "probability": m.confidence} for m in mistakes]
        return {}, {"Misclassified test texts (most confident first)": rows}

    return show


def sampled_texts(texts: list[str]) -> PredictionView:
    """A view of sampled single-label answers as a table: right or wrong, the text, the true and the
    predicted label and its probability."""

    def show(samples: list[Prediction]) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
        rows = [{"result": "right" if s.correct else "wrong", "text": _short(texts[s.index]), "actual": s.actual,
                 "predicted": s.predicted, "probability": s.confidence} for s in samples]
        return {}, {SAMPLES_HEADING: rows}

    return show


def text_metrics(probabilities: torch.Tensor, targets: torch.Tensor, state: dict[str, Any]) -> dict[str, Any]:
    """The metrics of class probabilities (softmax, or per-label sigmoid for multi-label) on ``targets``."""
    if not state["multi_label"]:
        return classification_metrics(probabilities, targets, state["labels"])
    labels, truth = state["labels"], targets.long()
    options = {"num_labels": len(labels), "threshold": state["threshold"]}
    per_label = {
        "precision": multilabel_precision(probabilities, truth, average="none", **options),
        "recall": multilabel_recall(probabilities, truth, average="none", **options),
        "f1": multilabel_f1_score(probabilities, truth, average="none", **options),
    }
    support = truth.sum(dim=0)
    subset = float(multilabel_exact_match(probabilities, truth, **options))
    return {
        "accuracy": subset,  # for multi-label, a text counts as right only with exactly its labels
        "subset_accuracy": subset,
        "hamming_loss": float(multilabel_hamming_distance(probabilities, truth, **options)),
        "macro_f1": float(multilabel_f1_score(probabilities, truth, average="macro", **options)),
        "micro_f1": float(multilabel_f1_score(probabilities, truth, average="micro", **options)),
        "macro_precision": float(multilabel_precision(probabilities, truth, average="macro", **options)),
        "macro_recall": float(multilabel_recall(probabilities, truth, average="macro", **options)),
        "auroc": _multilabel_auroc(probabilities, truth, len(labels)),
        "per_class": {name: {**{k: round(float(v[i]), 4) for k, v in per_label.items()}, "support": int(support[i])}
                      for i, name in enumerate(labels)},
        "test_samples": int(len(truth)),
    }


def evaluate_multi_label(logits: torch.Tensor, targets: torch.Tensor, state: dict[str, Any],
                         texts: list[str]) -> Evaluation:
    """Metrics, F1 by label and the mistaken texts of a multi-label model on the test split."""
    labels, threshold, truth = state["labels"], state["threshold"], targets.long()
    probabilities = logits.sigmoid()
    metrics = text_metrics(probabilities, targets, state)
    figures = {"f1_by_class": bar_chart({k: v["f1"] for k, v in metrics["per_class"].items()},
                                        "F1 by label (test)", "F1")}
    on = probabilities >= threshold
    wrong = (on != truth.bool()).any(dim=1)

    def names(row: torch.Tensor) -> str:
        return ", ".join(labels[j] for j in torch.nonzero(row).flatten()) or "(none)"

    mistakes = [{"text": _short(texts[i]), "actual": names(truth[i]), "predicted": names(on[i])}
                for i in torch.nonzero(wrong).flatten()[:SHOWN_MISTAKES].tolist()]
    tables = _tables(metrics, mistakes)
    chosen = torch.randperm(len(texts), generator=torch.Generator().manual_seed(0))
    shown = sorted(chosen[wrong[chosen]][: SHOWN_SAMPLES // 2].tolist()
                   + chosen[~wrong[chosen]][: SHOWN_SAMPLES // 2].tolist())
    if shown:
        tables[SAMPLES_HEADING] = [{"result": "wrong" if wrong[i] else "right", "text": _short(texts[i]),
                                    "actual": names(truth[i]), "predicted": names(on[i])} for i in shown]
    return Evaluation(metrics, figures, tables)


def _multilabel_auroc(probabilities: torch.Tensor, truth: torch.Tensor, n: int) -> float | None:
    varied = (truth.sum(dim=0) > 0) & (truth.sum(dim=0) < len(truth))  # AUROC needs both values per label
    if not varied.any():
        return None
    per_label = multilabel_auroc(probabilities, truth, n, average="none")
    return float(per_label[varied].mean())


def _tables(metrics: dict[str, Any], mistakes: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    tables = {"Per-class metrics (test)": [{"class": name, **values} for name, values in metrics["per_class"].items()]}
    if mistakes:
        tables["Misclassified test texts (most confident first)"] = mistakes
    return tables


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
