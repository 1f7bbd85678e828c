"""Test-set metrics (torchmetrics) and figures for image classification."""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics.functional.classification import (
    binary_auroc,
    binary_roc,
    multiclass_accuracy,
    multiclass_auroc,
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)

from torchworks.report.plots import confusion_matrix_figure, image_grid, roc_figure
from torchworks.tasks.protocol import Evaluation


def classification_metrics(scores: torch.Tensor, targets: torch.Tensor, labels: list[str]) -> dict[str, Any]:
    """accuracy, macro_f1, auroc (one-vs-rest macro; binary AUROC for two classes) and per_class.

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
        "auroc": _auroc(scores, targets, n),
        "per_class": {
            label: {**{k: round(float(v[i]), 4) for k, v in per_class.items()}, "support": int(support[i])}
            for i, label in enumerate(labels)
        },
        "test_samples": int(len(targets)),
    }


def _auroc(scores: torch.Tensor, targets: torch.Tensor, n: int) -> float | None:
    present = torch.unique(targets)
    if len(present) < 2:
        return None  # undefined when the test split holds a single class
    if n == 2:
        return float(binary_auroc(scores[:, 1], targets))
    per_class = multiclass_auroc(scores, targets, n, average="none")
    return float(per_class[present].mean())


def evaluate_classifier(logits: torch.Tensor, targets: torch.Tensor, labels: list[str], dataset: Any,
                        positive: str | None) -> Evaluation:
    """Metrics, confusion matrix, ROC for binary problems, and a grid of misclassified images."""
    probabilities = logits.softmax(dim=1)
    metrics = classification_metrics(probabilities, targets, labels)
    matrix = multiclass_confusion_matrix(probabilities.argmax(1), targets, len(labels)).numpy()
    figures = {"confusion_matrix": confusion_matrix_figure(matrix, labels)}
    if len(labels) == 2 and len(torch.unique(targets)) == 2:
        pos = labels.index(positive) if positive in labels else 1
        fpr, tpr, _ = binary_roc(probabilities[:, pos], (targets == pos).long())
        auc = float(binary_auroc(probabilities[:, pos], (targets == pos).long()))
        figures["roc_curve"] = roc_figure({f"{labels[pos]} vs {labels[1 - pos]}": (fpr.numpy(), tpr.numpy(), auc)})
    wrong = torch.nonzero(probabilities.argmax(1) != targets).flatten()[:24].tolist()
    if wrong:
        images = [dataset.raw(i) for i in wrong]
        captions = [f"{labels[targets[i]]} -> {labels[int(probabilities[i].argmax())]} "
                    f"{float(probabilities[i].max()):.2f}" for i in wrong]
        figures["misclassified"] = image_grid(images, captions, "Misclassified test images (actual -> predicted p)")
    rows = [{"class": label, **values} for label, values in metrics["per_class"].items()]
    return Evaluation(metrics, figures, {"Per-class metrics (test)": rows})
