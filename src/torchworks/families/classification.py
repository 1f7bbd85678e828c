"""What every classification-shaped task shares: the class-weighted loss, validation metrics, top-k
records and a streaming test-set evaluator with the standard figures.

A task supplies only what is its own: its labels (``state["labels"]``, optional
``state["class_weights"]`` and ``state["multi_label"]``), and how to show its worst mistakes (a grid
of images, a table of texts).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from torchworks.evaluation import Evaluation, Evaluator

SHOWN_MISTAKES = 24


def class_weighted_loss(outputs: torch.Tensor, targets: torch.Tensor, state: dict[str, Any]) -> torch.Tensor:
    """Cross-entropy over the classes (binary cross-entropy per label for multi-label), weighted by
    ``state["class_weights"]`` when the run chose ``class_weights=auto``."""
    from torch.nn import functional as F

    weights = state.get("class_weights")
    weight = torch.as_tensor(weights, dtype=torch.float32, device=outputs.device) if weights else None
    if state.get("multi_label"):
        return F.binary_cross_entropy_with_logits(outputs.float(), targets.float(), pos_weight=weight)
    return F.cross_entropy(outputs.float(), targets, weight=weight)


def validation_metrics(state: dict[str, Any]):
    """Accuracy and macro-F1 on the validation split (exact-match and macro-F1 for multi-label)."""
    from torchmetrics import MetricCollection
    from torchmetrics.classification import (
        MulticlassAccuracy,
        MulticlassF1Score,
        MultilabelExactMatch,
        MultilabelF1Score,
    )

    n = len(state["labels"])
    if state.get("multi_label"):
        threshold = state["threshold"]
        return MetricCollection({"accuracy": MultilabelExactMatch(n, threshold=threshold),
                                 "macro_f1": MultilabelF1Score(n, threshold=threshold, average="macro")})
    return MetricCollection({"accuracy": MulticlassAccuracy(n, average="micro"),
                             "macro_f1": MulticlassF1Score(n, average="macro")})


def top_k_scores(probabilities: torch.Tensor, labels: list[str], k: int) -> list[list[dict[str, Any]]]:
    """Per row, the ``k`` most probable classes as ``{"label", "probability"}``, best first."""
    top = probabilities.topk(min(k, len(labels)), dim=1)
    return [[{"label": labels[int(c)], "probability": round(float(p), 6)} for p, c in zip(values, indices)]
            for values, indices in zip(top.values, top.indices)]


def class_records(logits: torch.Tensor, ids: list[Any], labels: list[str], k: int) -> list[dict[str, Any]]:
    """One single-label record per input: ``{"input", "label", "probability", "top_k"}``."""
    records = []
    for identifier, best in zip(ids, top_k_scores(logits.softmax(dim=1), labels, k)):
        records.append({"input": identifier, "label": best[0]["label"], "probability": best[0]["probability"],
                        "top_k": best})
    return records


@dataclass(frozen=True)
class Mistake:
    """A wrong test answer: the sample's position in the test split, what it was and what was said."""

    index: int
    actual: str
    predicted: str
    confidence: float


# (mistakes, most confident first) -> (figures, tables) the task draws of them
MistakeView = Callable[[list[Mistake]], tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]]


class ClassificationEvaluator(Evaluator):
    """Single-label test metrics, built batch by batch.

    Between batches it keeps the class probabilities and targets (what exact AUROC and ROC curves
    need; logits and inputs are dropped) and only the most confident mistakes, at most
    ``SHOWN_MISTAKES``. ``compute`` gives accuracy, macro/micro precision, recall and F1, AUROC,
    per-class rows, a confusion matrix, F1 by class, a confidence histogram, a ROC curve for two
    classes, and whatever ``show_mistakes`` draws of the mistakes.
    """

    def __init__(self, labels: list[str], positive: str | None = None, show_mistakes: MistakeView | None = None):
        self.labels = labels
        self.positive = positive
        self.show_mistakes = show_mistakes
        self._probabilities: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []
        self._mistakes: list[tuple[float, int, int, int]] = []  # min-heap of (confidence, -index, actual, said)
        self._seen = 0

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        probabilities = outputs.float().softmax(dim=1)
        confidence, predicted = probabilities.max(dim=1)
        for row in torch.nonzero(predicted != targets).flatten().tolist():
            entry = (float(confidence[row]), -(self._seen + row), int(targets[row]), int(predicted[row]))
            if len(self._mistakes) < SHOWN_MISTAKES:
                heapq.heappush(self._mistakes, entry)
            else:
                heapq.heappushpop(self._mistakes, entry)
        self._probabilities.append(probabilities)
        self._targets.append(targets.long())
        self._seen += len(targets)

    def compute(self) -> Evaluation:
        from torchworks.metrics.classification import classification_metrics, confusion_matrix
        from torchworks.report.plots import bar_chart, confidence_histogram, confusion_matrix_figure

        labels = self.labels
        probabilities, targets = torch.cat(self._probabilities), torch.cat(self._targets)
        metrics = classification_metrics(probabilities, targets, labels)
        confidence, predicted = probabilities.max(dim=1)
        figures = {
            "confusion_matrix": confusion_matrix_figure(confusion_matrix(probabilities, targets, len(labels)), labels),
            "f1_by_class": bar_chart({n: v["f1"] for n, v in metrics["per_class"].items()}, "F1 by class (test)", "F1"),
            "confidence": confidence_histogram(confidence.numpy(), (predicted == targets).numpy()),
        }
        if len(labels) == 2 and len(torch.unique(targets)) == 2:
            figures["roc_curve"] = self._roc(probabilities, targets)
        tables = {"Per-class metrics (test)": [{"class": label, **values}
                                               for label, values in metrics["per_class"].items()]}
        mistakes = [Mistake(-negative, labels[actual], labels[said], round(confidence_, 3))
                    for confidence_, negative, actual, said in sorted(self._mistakes, reverse=True)]
        if mistakes and self.show_mistakes is not None:
            more_figures, more_tables = self.show_mistakes(mistakes)
            figures.update(more_figures)
            tables.update(more_tables)
        return Evaluation(metrics, figures, tables)

    def _roc(self, probabilities: torch.Tensor, targets: torch.Tensor):
        from torchmetrics.functional.classification import binary_auroc, binary_roc

        from torchworks.report.plots import roc_figure

        labels = self.labels
        pos = labels.index(self.positive) if self.positive in labels else 1
        truth = (targets == pos).long()
        fpr, tpr, _ = binary_roc(probabilities[:, pos], truth)
        auc = float(binary_auroc(probabilities[:, pos], truth))
        return roc_figure({f"{labels[pos]} vs {labels[1 - pos]}": (fpr.numpy(), tpr.numpy(), auc)})
