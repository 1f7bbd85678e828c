"""Test-set evaluation of a segmentation model: one pixel confusion matrix for the scores, and a few
images kept for the report.

Between batches the evaluator keeps the confusion matrix, the predicted masks of at most
``SHOWN_SAMPLES`` images spread evenly over the split, and those of the ``SHOWN_WORST`` images with the
lowest mIoU of their own. The images themselves are read back from the test dataset only in ``compute``.
"""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np
import torch

from torchworks.evaluation import Evaluation, Evaluator
from torchworks.tasks.segmentation.metrics import PixelConfusion, segmentation_scores

SHOWN_SAMPLES = 6
SHOWN_WORST = 6


class SegmentationEvaluator(Evaluator):
    """``metrics.json``'s ``miou``, ``dice``, ``pixel_accuracy``, ``fw_iou`` and ``per_class``; figures of
    test images (ground truth, prediction, error map), the worst images, IoU and Dice per class, and the
    confusion matrix; a per-class table.

    Args:
        labels: Class names by output channel.
        ignore_index: Target value of pixels that count for nothing.
        colours: An RGB colour per class, for overlays.
        dataset: The test dataset, read in order (``dataset[i]`` is ``(image, mask)``); None: no images.
        include_background: Whether class 0 counts in the means.
    """

    def __init__(self, labels: list[str], ignore_index: int, colours: list[list[int]], dataset: Any = None, *,
                 include_background: bool = True):
        self.labels, self.ignore_index, self.colours = labels, ignore_index, colours
        self.dataset = dataset
        self.include_background = include_background
        self.confusion = PixelConfusion(labels, ignore_index, include_background)
        size = len(dataset) if dataset is not None else 0
        self._sampled = set(np.unique(np.linspace(0, size - 1, min(size, SHOWN_SAMPLES)).round().astype(int))
                            .tolist()) if size else set()
        self._samples: dict[int, np.ndarray] = {}
        self._worst: list[tuple[float, int, np.ndarray]] = []  # max-heap by mIoU: (-miou, index, prediction)
        self._seen = 0

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        predicted = outputs.argmax(dim=1)
        self.confusion.update(predicted, targets)
        for prediction, target in zip(predicted, targets):
            index = self._seen
            self._seen += 1
            score = image_miou(prediction, target, len(self.labels), self.ignore_index)
            kept = prediction.to(torch.uint8 if len(self.labels) <= 256 else torch.int32).numpy()
            if index in self._sampled:
                self._samples[index] = kept
            if score is None:
                continue
            entry = (-score, index, kept)
            if len(self._worst) < SHOWN_WORST:
                heapq.heappush(self._worst, entry)
            elif entry[:2] > self._worst[0][:2]:
                heapq.heapreplace(self._worst, entry)

    def compute(self) -> Evaluation:
        from torchworks.tasks.segmentation.figures import class_scores_figure, confusion_figure

        scores = self.confusion.compute()
        matrix = self.confusion.confusion
        figures: dict[str, Any] = {}
        if self._seen:
            figures["iou_per_class"] = class_scores_figure(scores["per_class"])
            figures["confusion_matrix"] = confusion_figure(matrix, self.labels)
        figures.update(self._image_figures())
        table = [{"class": name, "IoU": entry["iou"], "Dice": entry["dice"], "precision": entry["precision"],
                  "recall": entry["recall"], "test pixels": entry["pixels"]}
                 for name, entry in scores["per_class"].items()]
        tables = {"Per-class scores (test pixels)": table}
        worst = self._worst_first()
        if worst:
            tables["Test images with the lowest mIoU"] = [
                {"image": self._name(index), "mIoU": round(score, 4)} for score, index, _ in worst]
        return Evaluation(metrics=scores, figures=figures, tables=tables)

    def _worst_first(self) -> list[tuple[float, int, np.ndarray]]:
        return [(-negative, index, kept) for negative, index, kept in sorted(self._worst, reverse=True)]

    def _name(self, index: int) -> str:
        names = getattr(self.dataset, "names", None)
        return str(names[index]) if names is not None and 0 <= index < len(names) else f"#{index}"

    def _image_figures(self) -> dict[str, Any]:
        from torchworks.tasks.segmentation.figures import comparison_figure

        if self.dataset is None:
            return {}
        views = (("test_images", sorted(self._samples.items()),
                  "Test images spread over the split: image, ground truth, prediction, errors"),
                 ("worst_images", [(index, kept) for _, index, kept in self._worst_first()],
                  "Test images with the lowest mIoU, worst first"))
        figures = {}
        for name, shown, title in views:
            rows = []
            for index, prediction in shown:
                image, truth = self.dataset[index]
                height, width = truth.shape[-2:]
                rows.append((self._name(index), image, truth.numpy(), prediction[:height, :width]))
            if rows:
                figures[name] = comparison_figure(rows, self.colours, self.ignore_index, title)
        return figures


def image_miou(prediction: torch.Tensor, target: torch.Tensor, classes: int, ignore_index: int) -> float | None:
    """The mIoU of one image over the classes present in its truth or its prediction (background
    included), ignoring ``ignore_index`` pixels; None when no pixel counts."""
    counted = target != ignore_index
    if not counted.any():
        return None
    pairs = target[counted] * classes + prediction[counted]
    matrix = torch.bincount(pairs, minlength=classes * classes).reshape(classes, classes)
    return float(segmentation_scores(matrix, [str(c) for c in range(classes)])["miou"])
