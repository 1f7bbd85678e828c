"""What every classification-shaped task shares: the class-weighted loss, validation metrics, top-k
records and a streaming test-set evaluator with the standard figures.

A task supplies only what is its own: its labels (``state["labels"]``, optional
``state["class_weights"]`` and ``state["multi_label"]``), and how to show test answers: its worst
mistakes and a sample of right and wrong ones (a grid of images, a table of texts).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from torchworks.evaluation import Evaluation, Evaluator

SHOWN_MISTAKES = 24
SHOWN_SAMPLES = 16  # right and wrong answers drawn at random for the report, at most this many of each
CALIBRATION_BINS = 15


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
class Prediction:
    """A test answer: the sample's position in the test split, what it was and what was said, how sure."""

    index: int
    actual: str
    predicted: str
    confidence: float

    @property
    def correct(self) -> bool:
        return self.actual == self.predicted


Mistake = Prediction  # a wrong answer

# (answers) -> (figures, tables) the task draws of them: its mistakes, most confident first, or a
# random sample of right and wrong answers in test order
PredictionView = Callable[[list[Prediction]], tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]]
MistakeView = PredictionView


class _Reservoir:
    """A uniform random sample of at most ``size`` items from a stream (reservoir sampling), seeded."""

    def __init__(self, size: int, seed: int):
        self.size, self.seen, self.items = size, 0, []
        self._random = random.Random(seed)

    def offer(self, item: Any) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
        else:
            slot = self._random.randrange(self.seen)
            if slot < self.size:
                self.items[slot] = item


class ClassificationEvaluator(Evaluator):
    """Single-label test metrics, built batch by batch.

    Between batches it keeps the class probabilities and targets (what exact AUROC, ROC and
    precision-recall curves and calibration need; logits and inputs are dropped), the most confident
    mistakes (at most ``SHOWN_MISTAKES``) and a random sample of right and of wrong answers (at most
    ``SHOWN_SAMPLES`` each) as positions in the test split. ``compute`` gives accuracy, macro/micro
    precision, recall and F1, AUROC, average precision, expected calibration error, per-class rows, a
    confusion matrix (counts and normalised), F1 by class, a confidence histogram, precision-recall
    curves, a reliability diagram, a ROC curve for two classes, and whatever ``show_mistakes`` and
    ``show_samples`` draw.
    """

    def __init__(self, labels: list[str], positive: str | None = None, show_mistakes: PredictionView | None = None,
                 show_samples: PredictionView | None = None):
        self.labels = labels
        self.positive = positive
        self.show_mistakes = show_mistakes
        self.show_samples = show_samples
        self._probabilities: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []
        self._mistakes: list[tuple[float, int, int, int]] = []  # min-heap of (confidence, -index, actual, said)
        self._right, self._wrong = _Reservoir(SHOWN_SAMPLES, seed=0), _Reservoir(SHOWN_SAMPLES, seed=1)
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
        if self.show_samples is not None:
            for row, (sure, said, actual) in enumerate(zip(confidence.tolist(), predicted.tolist(), targets.tolist())):
                (self._right if said == actual else self._wrong).offer((self._seen + row, actual, said, sure))
        self._probabilities.append(probabilities)
        self._targets.append(targets.long())
        self._seen += len(targets)

    def compute(self) -> Evaluation:
        from torchworks.metrics.classification import classification_metrics, confusion_matrix
        from torchworks.report.plots import bar_chart, confidence_histogram, confusion_matrix_figure

        labels = self.labels
        probabilities, targets = torch.cat(self._probabilities), torch.cat(self._targets)
        metrics = classification_metrics(probabilities, targets, labels)
        precision_recall, metrics["average_precision"] = self._precision_recall(probabilities, targets)
        calibration, metrics["ece"] = self._calibration(probabilities, targets)
        confidence, predicted = probabilities.max(dim=1)
        figures = {
            "confusion_matrix": confusion_matrix_figure(confusion_matrix(probabilities, targets, len(labels)), labels),
            "f1_by_class": bar_chart({n: v["f1"] for n, v in metrics["per_class"].items()}, "F1 by class (test)", "F1"),
            "confidence": confidence_histogram(confidence.numpy(), (predicted == targets).numpy()),
            "calibration": calibration,
        }
        if precision_recall is not None:
            figures["precision_recall"] = precision_recall
        if len(labels) == 2 and len(torch.unique(targets)) == 2:
            figures["roc_curve"] = self._roc(probabilities, targets)
        tables = {"Per-class metrics (test)": [{"class": label, **values}
                                               for label, values in metrics["per_class"].items()]}
        views = ((self.show_samples, self._samples()),
                 (self.show_mistakes, [Prediction(-negative, labels[actual], labels[said], round(sure, 3))
                                       for sure, negative, actual, said in sorted(self._mistakes, reverse=True)]))
        for view, shown in views:
            if shown and view is not None:
                more_figures, more_tables = view(shown)
                figures.update(more_figures)
                tables.update(more_tables)
        return Evaluation(metrics, figures, tables)

    def _samples(self) -> list[Prediction]:
        """Up to ``SHOWN_SAMPLES`` answers: half wrong where there are enough, the rest right, in test order."""
        wrong = sorted(self._wrong.items)[: max(SHOWN_SAMPLES // 2, SHOWN_SAMPLES - len(self._right.items))]
        right = sorted(self._right.items)[: SHOWN_SAMPLES - len(wrong)]
        return [Prediction(index, self.labels[actual], self.labels[said], round(sure, 3))
                for index, actual, said, sure in sorted(right + wrong)]

    def _precision_recall(self, probabilities: torch.Tensor, targets: torch.Tensor):
        """Precision-recall curves, one-vs-rest per class present in the test split (the positive
        class only, for two classes), and their mean average precision."""
        from torchmetrics.functional.classification import binary_average_precision, binary_precision_recall_curve

        from torchworks.report.plots import precision_recall_figure

        labels = self.labels
        present = torch.unique(targets).tolist()
        if len(labels) == 2:
            pos = labels.index(self.positive) if self.positive in labels else 1
            present = [pos] if pos in present and len(present) == 2 else []
        elif len(present) < 2:
            present = []  # one class only: every answer is a positive or a negative of every curve
        if not present:
            return None, None
        # exact curves up to 20,000 answers; past that 500 thresholds draw the same picture faster
        thresholds = None if len(targets) <= 20_000 else 500
        curves = {}
        for index in present:
            truth = (targets == index).long()
            precision, recall, _ = binary_precision_recall_curve(probabilities[:, index], truth, thresholds=thresholds)
            ap = float(binary_average_precision(probabilities[:, index], truth))
            curves[labels[index]] = (precision.numpy(), recall.numpy(), ap)
        mean_ap = sum(ap for _, _, ap in curves.values()) / len(curves)
        title = "Precision-recall (test)" if len(labels) == 2 else \
            f"Precision-recall, one-vs-rest (test): mean AP {mean_ap:.3f}"
        return precision_recall_figure(curves, title), mean_ap

    def _calibration(self, probabilities: torch.Tensor, targets: torch.Tensor):
        """A reliability diagram of the predicted class's probability and the expected calibration
        error (torchmetrics, the same equal-width bins)."""
        import numpy as np
        from torchmetrics.functional.classification import multiclass_calibration_error

        from torchworks.report.plots import reliability_figure

        ece = float(multiclass_calibration_error(probabilities, targets, len(self.labels),
                                                 n_bins=CALIBRATION_BINS, norm="l1"))
        confidence, predicted = probabilities.max(dim=1)
        right = (predicted == targets).double()
        bins = torch.clamp(torch.bucketize(confidence.double(), torch.linspace(0, 1, CALIBRATION_BINS + 1,
                                                                                dtype=torch.float64), right=True) - 1,
                           0, CALIBRATION_BINS - 1)
        counts = torch.bincount(bins, minlength=CALIBRATION_BINS).double()
        sums = torch.zeros(CALIBRATION_BINS, dtype=torch.float64)
        mean_confidence = sums.index_add(0, bins, confidence.double()) / counts
        accuracy = sums.index_add(0, bins, right) / counts
        figure = reliability_figure(mean_confidence.numpy(), accuracy.numpy(), counts.numpy().astype(np.int64), ece)
        return figure, ece

    def _roc(self, probabilities: torch.Tensor, targets: torch.Tensor):
        from torchmetrics.functional.classification import binary_auroc, binary_roc

        from torchworks.report.plots import roc_figure

        labels = self.labels
        pos = labels.index(self.positive) if self.positive in labels else 1
        truth = (targets == pos).long()
        fpr, tpr, _ = binary_roc(probabilities[:, pos], truth)
        auc = float(binary_auroc(probabilities[:, pos], truth))
        return roc_figure({f"{labels[pos]} vs {labels[1 - pos]}": (fpr.numpy(), tpr.numpy(), auc)})
