"""Test-set evaluation of a detector: COCO metrics in the stored images' pixels, streamed batch by batch,
and the mAP that validation logs each epoch (``val_map``, what checkpoints keep and early stopping watches)."""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics import Metric

from torchworks.evaluation import Evaluation, Evaluator
from torchworks.tasks.object_detection.decoding import Detections, decode
from torchworks.tasks.object_detection.metrics import DetectionMetrics
from torchworks.tasks.object_detection.transforms import in_image, to_original

# COCO's convention for computing AP: keep nearly every box (AP integrates over all score thresholds)
EVAL_CONF = 0.001
EVAL_IOU = 0.6
EVAL_MAX_DET = 100


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
    """COCO metrics of the test split (see :class:`~torchworks.tasks.object_detection.metrics.DetectionMetrics`)."""

    def __init__(self, labels: list[str], image_size: int):
        self.labels = labels
        self.image_size = image_size
        self.metrics = DetectionMetrics(labels)

    def update(self, outputs: dict[str, torch.Tensor], targets: list[dict[str, Any]]) -> None:
        predictions, truths = in_stored_pixels(evaluation_detections(outputs, self.image_size), targets,
                                               self.image_size)
        self.metrics.update(predictions, truths)

    def compute(self) -> Evaluation:
        result = self.metrics.compute()
        per_class = result["per_class"]
        table = [{"class": name, "boxes": entry["boxes"], "AP": entry["ap"], "AP50": entry["ap_50"],
                  "recall": entry["recall"]} for name, entry in per_class.items()]
        return Evaluation(metrics=result, tables={"per-class AP": table})


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
