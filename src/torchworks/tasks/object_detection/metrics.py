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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

MAX_DETECTIONS = 100
# COCOeval's own float64 grids. torchmetrics' defaults come from a float32 linspace, which moves recall
# points such as 0.29 just above COCO's and shifts AP by up to ~0.01 whenever a recall hits one exactly.
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10).tolist()
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101).tolist()
SUMMARY = ("map", "map_50", "map_75", "map_small", "map_medium", "map_large", f"mar_{MAX_DETECTIONS}")


def _field(item: Any, name: str) -> Any:
    """``item[name]`` for a mapping, ``item.name`` for an object such as ``DetectionImage``."""
    return item[name] if isinstance(item, Mapping) else getattr(item, name)


def _tensor(values: Any, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        return values.detach().to(device="cpu", dtype=dtype)
    return torch.as_tensor(np.asarray(values), dtype=dtype)


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
        self.images = 0

    def reset(self) -> None:
        self._metric.reset()
        self._boxes[:] = 0
        self.images = 0

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
            np.add.at(self._boxes, gt["labels"][gt["iscrowd"] == 0].numpy(), 1)
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
        return result
