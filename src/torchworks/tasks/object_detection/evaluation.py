"""Test-set evaluation of a detector: COCO metrics in the stored images' pixels, streamed batch by batch,
and the mAP that validation logs each epoch (``val_map``, what checkpoints keep and early stopping watches)."""

from __future__ import annotations

import heapq
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchmetrics import Metric

from torchworks.evaluation import Evaluation, Evaluator
from torchworks.image_files import DEFAULT_MAX_PIXELS
from torchworks.tasks.object_detection.decoding import Detections, decode
from torchworks.tasks.object_detection.matching import (
    DetectionConfusion,
    ImageMatches,
    match_image,
)
from torchworks.tasks.object_detection.metrics import SIZES, DetectionMetrics
from torchworks.tasks.object_detection.transforms import in_image, to_original

# COCO's convention for computing AP: keep nearly every box (AP integrates over all score thresholds)
EVAL_CONF = 0.001
EVAL_IOU = 0.6
EVAL_MAX_DET = 100
MATCH_IOU = 0.5  # a box finds an object (confusion matrix, misses, false alarms) at this IoU or more
SHOWN_SAMPLES = 8  # test images drawn for the report, spread evenly over the split
SHOWN_WORST = 6  # and the images with the most errors


def evaluation_detections(outputs: dict[str, torch.Tensor], image_size: int) -> list[Detections]:
    """The boxes AP is computed on: low score threshold, at most 100 per image."""
    return decode(outputs, (image_size, image_size), conf=EVAL_CONF, iou=EVAL_IOU, max_det=EVAL_MAX_DET)


def in_stored_pixels(detections: list[Detections], targets: list[dict[str, Any]], image_size: int
                     ) -> tuple[list[Detections], list[dict[str, Any]]]:
    """Predicted and true boxes moved from the letterboxed input back to each stored image's pixels (COCO's
    small/medium/large areas are judged there)."""
    predictions, truths = [], []
    for found, target in zip(detections, targets):
        size = target["orig_size"].tolist()
        predictions.append(in_image(found, size, image_size))
        truths.append({**target, "boxes": to_original(target["boxes"], size, image_size)})
    return predictions, truths


class DetectionEvaluator(Evaluator):
    """COCO metrics of the test split (see :class:`~torchworks.tasks.object_detection.metrics.DetectionMetrics`)
    and the report's figures and tables.

    AP is computed on nearly every box (score >= ``EVAL_CONF``, COCO's convention); what a user gets is
    judged at the prediction settings (``conf``, ``iou``, ``max_det``): those boxes are matched to the
    ground truth at IoU 0.50 whatever their class (:mod:`~torchworks.tasks.object_detection.matching`)
    for the detection confusion matrix, each class's misses and false alarms, and the worst images.

    Between batches it keeps the metric's boxes, the confusion counts, and the matches of at most
    ``SHOWN_SAMPLES`` images spread evenly over the split plus the ``SHOWN_WORST`` images with the
    most misses, false alarms and wrong classes. Those few images are read from ``dataset``
    (``images[i].path``, ``i`` being a target's ``image_id``) only in ``compute``; without a dataset
    the report has no images.
    """

    def __init__(self, labels: list[str], image_size: int, dataset: Any = None, *, conf: float = 0.25,
                 iou: float = 0.5, max_det: int = 100, max_pixels: int | None = None):
        self.labels = labels
        self.image_size = image_size
        self.dataset = dataset
        self.conf, self.iou, self.max_det = conf, iou, max_det
        self.max_pixels = max_pixels or getattr(dataset, "max_pixels", None) or DEFAULT_MAX_PIXELS
        self.metrics = DetectionMetrics(labels)
        self.confusion = DetectionConfusion(len(labels))
        size = len(dataset) if dataset is not None else 0
        self._sampled = set(np.unique(np.linspace(0, size - 1, min(size, SHOWN_SAMPLES)).round().astype(int))
                            .tolist()) if size else set()
        self._samples: list[ImageMatches] = []
        self._worst: list[tuple[int, int, ImageMatches]] = []  # min-heap of (errors, -index, matches)
        self._seen = 0

    def update(self, outputs: dict[str, torch.Tensor], targets: list[dict[str, Any]]) -> None:
        predictions, truths = in_stored_pixels(evaluation_detections(outputs, self.image_size), targets,
                                               self.image_size)
        self.metrics.update(predictions, truths)
        given = decode(outputs, (self.image_size, self.image_size), conf=self.conf, iou=self.iou,
                       max_det=self.max_det)
        for found, truth in zip(given, truths):
            found = in_image(found, truth["orig_size"].tolist(), self.image_size)
            index = int(truth["image_id"]) if "image_id" in truth else self._seen
            self._seen += 1
            matches = match_image(index, found["boxes"], found["scores"], found["labels"], truth["boxes"],
                                  truth["labels"], truth["iscrowd"], iou=MATCH_IOU)
            self.confusion.add(matches)
            if index in self._sampled:
                self._samples.append(matches)
            if matches.errors:
                entry = (matches.errors, -index, matches)
                if len(self._worst) < SHOWN_WORST:
                    heapq.heappush(self._worst, entry)
                elif entry[:2] > self._worst[0][:2]:
                    heapq.heapreplace(self._worst, entry)

    def compute(self) -> Evaluation:
        from torchworks.tasks.object_detection.evaluation_figures import (
            confusion_figure,
            precision_recall_curves,
        )

        result = self.metrics.compute()
        details = self.metrics.details
        matrix = self.confusion.matrix
        figures: dict[str, Any] = {}
        curves = precision_recall_curves(details.recall, details.precision_50, self.labels, result["map_50"])
        if curves is not None:
            figures["precision_recall"] = curves
        if self._seen:
            figures["detection_confusion_matrix"] = confusion_figure(matrix, self.labels, self.conf, MATCH_IOU)
        figures.update(self._image_figures())
        at = f"score >= {self.conf:g}"
        table = []
        for k, (name, entry) in enumerate(result["per_class"].items()):
            table.append({"class": name, "boxes": entry["boxes"], "AP": entry["ap"], "AP50": entry["ap_50"],
                          "recall": entry["recall"], f"found ({at})": int(matrix[k, k]),
                          "found as another class": int(matrix[k, :-1].sum() - matrix[k, k]),
                          "missed": int(matrix[k, -1]), "false alarms": int(matrix[-1, k])})
        sizes = [{"size": size, "area (pixels)": _area_range(low, high), "boxes": entry["boxes"], "AP": entry["ap"],
                  "AP50": entry["ap_50"], "recall": entry["recall"]}
                 for (size, entry), (low, high) in zip(details.by_size.items(), SIZES.values())]
        tables = {"Per-class AP (test; found, missed and false alarms at the prediction settings)": table,
                  "AP by object size (COCO areas, test)": sizes}
        worst = self._worst_first()
        if worst:
            tables["Test images with the most errors"] = [
                {"image": self._name(m.index), "objects": int((~m.crowd).sum()), "boxes given": len(m.boxes),
                 "missed": m.misses, "false alarms": m.false_alarms, "wrong class": m.wrong_class} for m in worst]
        return Evaluation(metrics=result, figures=figures, tables=tables)

    def _worst_first(self) -> list[ImageMatches]:
        return [matches for _, _, matches in sorted(self._worst, key=lambda entry: entry[:2], reverse=True)]

    def _name(self, index: int) -> str:
        images = getattr(self.dataset, "images", None)
        return Path(images[index].path).name if images is not None and 0 <= index < len(images) else f"#{index}"

    def _image_figures(self) -> dict[str, Any]:
        """The sampled test images and the worst ones, each beside its ground truth (read from the dataset)."""
        from torchworks.tasks.object_detection.evaluation_figures import image_pairs

        images = getattr(self.dataset, "images", None)
        if images is None:
            return {}
        figures = {}
        views = (("test_images", sorted(self._samples, key=lambda m: m.index),
                  "Test images spread over the split: ground truth (left) and the model's boxes (right)"),
                 ("most_errors", self._worst_first(),
                  "Test images with the most misses, false alarms and wrong classes (red), worst first"))
        for name, shown, title in views:
            shown = [m for m in shown if 0 <= m.index < len(images)]
            if shown:
                figure = image_pairs(shown, [Path(images[m.index].path) for m in shown], self.labels, title,
                                     self.max_pixels, self.conf)
                if figure is not None:
                    figures[name] = figure
        return figures


def _area_range(low: float, high: float) -> str:
    if high == float("inf"):
        return f"over {low:.0f} ({low ** 0.5:.0f}²)"
    if low == 0:
        return f"up to {high:.0f} ({high ** 0.5:.0f}²)"
    return f"{low:.0f} to {high:.0f} ({low ** 0.5:.0f}² to {high ** 0.5:.0f}²)"


class ValidationMAP(Metric):
    """mAP@[.5:.95] of the validation split, as a torchmetrics metric the engine logs as ``val_map``.

    Updated with the detections of a validation step (already decoded, in input pixels) and the targets.
    """

    full_state_update = False

    def __init__(self, labels: list[str]):
        super().__init__()
        self.labels = labels
        # plain lists, not metric states: dicts of tensors are not something torchmetrics syncs or moves
        self.predictions: list[Detections] = []
        self.truths: list[dict[str, torch.Tensor]] = []

    def reset(self) -> None:
        super().reset()
        self.predictions, self.truths = [], []

    def update(self, detections: list[Detections], targets: list[dict[str, Any]]) -> None:
        for found, target in zip(detections, targets):
            self.predictions.append({key: value.detach().cpu() for key, value in found.items()})
            self.truths.append({key: target[key].detach().cpu() for key in ("boxes", "labels", "iscrowd")})

    def compute(self) -> torch.Tensor:
        metrics = DetectionMetrics(self.labels)
        if self.predictions:
            metrics.update(self.predictions, self.truths)
        value = metrics.compute()["map"]
        return torch.tensor(0.0 if value is None else value)
