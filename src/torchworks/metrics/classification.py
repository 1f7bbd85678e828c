"""Single-label classification metrics shared by the image and text tasks."""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics.functional.classification import (
    binary_auroc,
    multiclass_accuracy,
    multiclass_auroc,
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)


def classification_metrics(scores: torch.Tensor, targets: torch.Tensor, labels: list[str]) -> dict[str, Any]:
    """accuracy, macro and micro precision/recall/F1, auroc (one-vs-rest macro; binary AUROC for two
    classes) and per_class with support.

    ``scores`` are class probabilities or any per-class scores that rank like them.
    """
    n = len(labels)
    preds = scores.argmax(dim=1)
    per_class = {
        "precision": multiclass_precision(preds, targets, n, average="none"),
        "recall": multiclass_recall(preds, targets, n, average="none"),
        "f1": multiclass_f1_score(preds, targets, n, average="none"),
    }
    support = torch.bincount(targets, minlength=n)
    return {
        "accuracy": float(multiclass_accuracy(preds, targets, n, average="micro")),
        "macro_f1": float(multiclass_f1_score(preds, targets, n, average="macro")),
        "macro_precision": float(multiclass_precision(preds, targets, n, average="macro")),
        "macro_recall": float(multiclass_recall(preds, targets, n, average="macro")),
        "micro_f1": float(multiclass_f1_score(preds, targets, n, average="micro")),
        "auroc": _auroc(scores, targets, n),
        "per_class": {
            label: {**{k: round(float(v[i]), 4) for k, v in per_class.items()}, "support": int(support[i])}
            for i, label in enumerate(labels)
        },
        "test_samples": int(len(targets)),
    }


def confusion_matrix(scores: torch.Tensor, targets: torch.Tensor, n: int):
    """Counts of (actual, predicted) pairs as a numpy array, rows = actual."""
    return multiclass_confusion_matrix(scores.argmax(dim=1), targets, n).numpy()


def _auroc(scores: torch.Tensor, targets: torch.Tensor, n: int) -> float | None:
    present = torch.unique(targets)
    if len(present) < 2:
        return None  # undefined when the test split holds a single class
    if n == 2:
        return float(binary_auroc(scores[:, 1], targets))
    per_class = multiclass_auroc(scores, targets, n, average="none")
    return float(per_class[present].mean())
