"""COCO box metrics over a whole split, gathered image by image.

:class:`DetectionMetrics` collects each image's predicted boxes (``x1 y1 x2 y2`` pixels, scores, class
indices) and its ground truth (boxes, class indices, ``iscrowd``), then evaluates everything at once
with torchmetrics' ``MeanAveragePrecision`` on the ``faster_coco_eval`` backend, which follows
pycocotools' COCOeval to the letter:

- IoU thresholds 0.50:0.05:0.95, 101 recall points, at most 100 detections per image and class;
- a detection whose best match is a crowd region (``iscrowd``; VOC's ``difficult`` objects are read
  into the same flag) is ignored, neither a true nor a false positive, and crowd regions are never
  counted as misses;
- an image without ground truth still counts: every detection on it is a false positive;
- an image without detections still counts: every box on it is a miss;
- small / medium / large are box areas below 32², between 32² and 96², above 96² pixels.

A value that COCO cannot define is ``None`` (JSON ``null``), never torchmetrics' ``-1``: the AP and
recall of a class with no (non-crowd) ground-truth box in the split, any class absent from both the
predictions and the ground truth, an area range with no box in it, and every value when the split
has no ground truth at all.

Beside the summary, ``compute`` keeps what the report draws in :attr:`DetectionMetrics.details`:
each class's precision at COCO's 101 recall points at IoU 0.50 (its precision-recall curve, whose
mean is its AP50) and AP, AP50 and recall per object size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

MAX_DETECTIONS = 100
# COCOeval's own float64 grids. torchmetrics' defaults come from a float32 linspace, which moves recall
# points such as 0.29 just above COCO's and shifts AP by up to ~0.01 whenever a recall hits one exactly.
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10).tolist()
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101).tolist()
SUMMARY = ("map", "map_50", "map_75", "map_small", "map_medium", "map_large", f"mar_{MAX_DETECTIONS}")
# COCO's area ranges in pixels², in the order of the A axis of its precision array (after "all")
SIZES = {"small": (0.0, 32.0**2), "medium": (32.0**2, 96.0**2), "large": (96.0**2, float("inf"))}


def _field(item: Any, name: str) -> Any:
    """``item[name]`` for a mapping, ``item.name`` for an object such as ``DetectionImage``."""
    return item[name] if isinstance(item, Mapping) else getattr(item, name)


def _tensor(values: Any, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        return values.detach().to(device="cpu", dtype=dtype)
    return torch.as_tensor(np.asarray(values), dtype=dtype)


@dataclass
class DetectionDetails:
    """What one ``compute`` found beyond the summary: the material of the report's curves and tables.

    Attributes:
        recall: COCO's 101 recall points (0, 0.01, ..., 1).
        precision_50: Per class name, its precision at each recall point at IoU 0.50 (all sizes, at most
            100 detections per image), zero past the highest recall reached; None for a class with no
            (non-crowd) ground truth. Its mean is the class's AP50.
        by_size: Per COCO size (``small``, ``medium``, ``large``): ``ap`` (0.50:0.95), ``ap_50``,
            ``recall`` (0.50:0.95, at most 100 detections) over every class, and ``boxes`` (non-crowd
            ground-truth boxes of that size). None where undefined.
    """

    recall: np.ndarray
    precision_50: dict[str, np.ndarray | None]
    by_size: dict[str, dict[str, Any]]


def _defined_mean(values: np.ndarray) -> float | None:
    """The mean of the values COCO defines (it writes -1 for undefined), None when there are none."""
    defined = values[values > -1]
    return float(defined.mean()) if defined.size else None


def _value(number: float) -> float | None:
    """COCO's -1 (undefined) as ``None``, anything else as a plain float."""
    number = float(number)
    return None if number < 0 else number


class DetectionMetrics:
    """COCO mAP for one split: ``update`` once per batch, ``compute`` once at the end.

    ``compute`` returns ``map`` (AP averaged over IoU 0.50:0.95), ``map_50``, ``map_75``,
    ``map_small``, ``map_medium``, ``map_large``, ``mar_100`` (recall with at most 100 detections
    per image, averaged over IoU thresholds) and ``per_class``: for every class name, ``ap``
    (0.50:0.95), ``ap_50``, ``recall`` (at most 100 detections, 0.50:0.95) and ``boxes`` (its
    non-crowd ground-truth boxes). Undefined values are ``None``, see the module docstring.
    After ``compute``, :attr:`details` holds the precision-recall curves at IoU 0.50 and the values per
    object size (:class:`DetectionDetails`).
    """

    def __init__(self, classes: Sequence[str]) -> None:
        from torchmetrics.detection import MeanAveragePrecision

        self.classes = list(classes)
        self._metric = MeanAveragePrecision(
            box_format="xyxy", iou_type="bbox", class_metrics=True, extended_summary=True,
            iou_thresholds=IOU_THRESHOLDS, rec_thresholds=RECALL_THRESHOLDS,
            max_detection_thresholds=[1, 10, MAX_DETECTIONS], backend="faster_coco_eval",
        )
        self._metric.warn_on_many_detections = False  # COCO keeps the top 100 per image and class anyway
        self._boxes = np.zeros(len(self.classes), dtype=np.int64)
        self._sized = np.zeros(len(SIZES), dtype=np.int64)  # non-crowd ground-truth boxes per COCO size
        self.images = 0
        self.details = self._empty_details()

    def reset(self) -> None:
        self._metric.reset()
        self._boxes[:] = 0
        self._sized[:] = 0
        self.images = 0
        self.details = self._empty_details()

    def _empty_details(self) -> DetectionDetails:
        return DetectionDetails(np.asarray(RECALL_THRESHOLDS), {name: None for name in self.classes},
                                {size: {"ap": None, "ap_50": None, "recall": None, "boxes": 0} for size in SIZES})

    def update(self, predictions: Sequence[Any], targets: Sequence[Any]) -> None:
        """Add a batch of images. ``predictions[i]`` holds ``boxes`` (N x 4 xyxy pixels), ``scores``
        (N) and ``labels`` (N class indices); ``targets[i]`` holds ``boxes``, ``labels`` and
        optionally ``iscrowd`` (all false when absent), for the same image. Each may be a mapping or
        an object with those attributes (a ``DetectionImage`` serves as a target); values may be
        tensors, arrays or lists."""
        if len(predictions) != len(targets):
            raise ValueError(f"{len(predictions)} predictions for {len(targets)} images: expected one per image")
        preds, gts = [], []
        for index, (prediction, target) in enumerate(zip(predictions, targets)):
            pred = {
                "boxes": _tensor(_field(prediction, "boxes"), torch.float32).reshape(-1, 4),
                "scores": _tensor(_field(prediction, "scores"), torch.float32).reshape(-1),
                "labels": _tensor(_field(prediction, "labels"), torch.int64).reshape(-1),
            }
            labels = _tensor(_field(target, "labels"), torch.int64).reshape(-1)
            crowd = _field(target, "iscrowd") if (
                (isinstance(target, Mapping) and "iscrowd" in target) or hasattr(target, "iscrowd")) else None
            gt = {
                "boxes": _tensor(_field(target, "boxes"), torch.float32).reshape(-1, 4),
                "labels": labels,
                "iscrowd": (torch.zeros_like(labels) if crowd is None else _tensor(crowd, torch.int64).reshape(-1)),
            }
            for name, item in (("prediction", pred), ("target", gt)):
                counts = {len(value) for value in item.values()}
                if len(counts) != 1:
                    raise ValueError(f"{name} {index}: boxes, labels and scores/iscrowd differ in length")
                bad = item["labels"][(item["labels"] < 0) | (item["labels"] >= len(self.classes))]
                if len(bad):
                    raise ValueError(f"{name} {index}: class index {int(bad[0])} outside 0..{len(self.classes) - 1}")
            counted = gt["iscrowd"] == 0
            np.add.at(self._boxes, gt["labels"][counted].numpy(), 1)
            sides = (gt["boxes"][counted, 2:] - gt["boxes"][counted, :2]).numpy().astype(np.float64)
            areas = sides[:, 0] * sides[:, 1]
            for column, (low, high) in enumerate(SIZES.values()):  # inclusive at both ends, as COCOeval
                self._sized[column] += int(((areas >= low) & (areas <= high)).sum())
            preds.append(pred)
            gts.append(gt)
        self._metric.update(preds, gts)
        self.images += len(preds)

    def compute(self) -> dict[str, Any]:
        """The metrics as plain floats (``None`` where undefined), ready for ``metrics.json``."""
        if self.images == 0:
            raw: dict[str, Any] = {}
        else:
            raw = self._metric.compute()
        result: dict[str, Any] = {key: _value(raw[key]) if key in raw else None for key in SUMMARY}
        per_class = {name: {"ap": None, "ap_50": None, "recall": None, "boxes": int(self._boxes[k])}
                     for k, name in enumerate(self.classes)}
        if "classes" in raw and "precision" in raw:
            # the K axis of the precision array follows the sorted class ids that occur anywhere
            precision = raw["precision"].numpy()  # T x R x K x A x M
            ap = np.atleast_1d(raw["map_per_class"].numpy())
            recall = np.atleast_1d(raw[f"mar_{MAX_DETECTIONS}_per_class"].numpy())
            for column, class_id in enumerate(np.atleast_1d(raw["classes"].numpy()).tolist()):
                curve = precision[0, :, column, 0, -1]  # IoU 0.50, all areas, 100 detections
                defined = curve[curve > -1]
                entry = per_class[self.classes[class_id]]
                entry["ap"] = _value(ap[column])
                entry["recall"] = _value(recall[column])
                entry["ap_50"] = float(defined.mean()) if defined.size else None
        result["per_class"] = per_class
        self.details = self._details(raw)
        return result

    def _details(self, raw: dict[str, Any]) -> DetectionDetails:
        details = self._empty_details()
        for column, (size, entry) in enumerate(details.by_size.items()):
            entry["boxes"] = int(self._sized[column])
            entry["ap"] = _value(raw[f"map_{size}"]) if f"map_{size}" in raw else None
            entry["recall"] = _value(raw[f"mar_{size}"]) if f"mar_{size}" in raw else None
        if "classes" not in raw or "precision" not in raw:
            return details
        precision = raw["precision"].numpy()  # T x R x K x A x M; A: all, small, medium, large
        for column, class_id in enumerate(np.atleast_1d(raw["classes"].numpy()).tolist()):
            curve = precision[0, :, column, 0, -1].astype(np.float64)
            if (curve > -1).all():
                details.precision_50[self.classes[class_id]] = curve
        for area, entry in enumerate(details.by_size.values(), start=1):
            entry["ap_50"] = _defined_mean(precision[0, :, :, area, -1])
        return details
