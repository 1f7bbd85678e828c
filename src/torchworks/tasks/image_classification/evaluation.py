"""Test-set metrics (torchmetrics) and figures for image classification."""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics.functional.classification import binary_auroc, binary_roc

from torchworks.metrics.classification import classification_metrics, confusion_matrix
from torchworks.report.plots import confusion_matrix_figure, image_grid, roc_figure
from torchworks.tasks.protocol import Evaluation


def evaluate_classifier(logits: torch.Tensor, targets: torch.Tensor, labels: list[str], dataset: Any,
                        positive: str | None) -> Evaluation:
    """Metrics, confusion matrix, ROC for binary problems, and a grid of misclassified images."""
    probabilities = logits.softmax(dim=1)
    metrics = classification_metrics(probabilities, targets, labels)
    matrix = confusion_matrix(probabilities, targets, len(labels))
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
