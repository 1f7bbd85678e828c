"""Segmentation scores from one pixel confusion matrix: IoU and Dice per class, their means, pixel
accuracy and frequency-weighted IoU.

The matrix is torchmetrics' ``MulticlassConfusionMatrix`` (rows: true class, columns: predicted class),
summed over every pixel of every image, with ``ignore_index`` pixels left out before they count: an
ignored pixel is neither right nor wrong, whatever the model says there. Means are macro means over the
classes *present* (a class with no true and no predicted pixel has no IoU and is left out, as in
Cityscapes and Pascal VOC practice), with class 0 (background) counted or not by
``include_background`` (MONAI's name for the same choice). The per-class table lists every class.
"""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics import Metric
from torchmetrics.classification import MulticlassConfusionMatrix


class PixelConfusion(Metric):
    """A ``[C, C]`` confusion matrix of pixels, updated with logits ``[B, C, H, W]`` or class indices
    ``[B, H, W]`` against targets ``[B, H, W]``; ``compute()`` gives :func:`segmentation_scores`.

    Args:
        labels: Class names by index.
        ignore_index: Target value of pixels that count for nothing.
        include_background: Whether class 0 counts in the means.
    """

    full_state_update = False

    def __init__(self, labels: list[str], ignore_index: int, include_background: bool = True):
        super().__init__()
        self.labels = list(labels)
        self.include_background = include_background
        # validate_args=False: a mask holds only class indices and ignore_index (checked when it was read)
        self.matrix = MulticlassConfusionMatrix(len(labels), ignore_index=ignore_index, validate_args=False)

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        predicted = outputs.argmax(dim=1) if outputs.dim() == targets.dim() + 1 else outputs
        self.matrix.update(predicted.reshape(-1), targets.reshape(-1))

    def compute(self) -> dict[str, Any]:
        return segmentation_scores(self.matrix.compute(), self.labels, self.include_background)

    def reset(self) -> None:
        super().reset()
        self.matrix.reset()

    @property
    def confusion(self) -> torch.Tensor:
        """The matrix so far (int64, rows true, columns predicted)."""
        return self.matrix.compute()


class ValidationMIoU(PixelConfusion):
    """The mIoU alone, for choosing the best epoch (``val_miou``)."""

    def compute(self) -> torch.Tensor:  # type: ignore[override]
        return torch.tensor(super().compute()["miou"], dtype=torch.float32)


def segmentation_scores(confusion: torch.Tensor, labels: list[str], include_background: bool = True
                        ) -> dict[str, Any]:
    """Scores of a confusion matrix (rows true, columns predicted): ``miou``, ``dice``, ``pixel_accuracy``,
    ``fw_iou`` and ``per_class`` (``iou``, ``dice``, ``precision``, ``recall``, ``pixels``; None where a
    class has no pixel on either side). Means are over the classes present (and counted)."""
    confusion = confusion.double()
    true_positive = confusion.diagonal()
    truth = confusion.sum(dim=1)  # pixels of each true class
    predicted = confusion.sum(dim=0)
    union = truth + predicted - true_positive
    iou = _ratio(true_positive, union)
    dice = _ratio(2 * true_positive, truth + predicted)
    precision, recall = _ratio(true_positive, predicted), _ratio(true_positive, truth)
    counted = [c for c in range(len(labels)) if union[c] > 0 and (include_background or c != 0)]
    total = float(truth.sum())
    frequency = truth / total if total else truth
    per_class = {name: {"iou": _value(iou[c]), "dice": _value(dice[c]), "precision": _value(precision[c]),
                        "recall": _value(recall[c]), "pixels": int(truth[c])} for c, name in enumerate(labels)}
    return {
        "miou": _mean(iou, counted),
        "dice": _mean(dice, counted),
        "pixel_accuracy": float(true_positive.sum() / total) if total else 0.0,
        "fw_iou": float(sum(frequency[c] * iou[c] for c in range(len(labels)) if union[c] > 0)),
        "per_class": per_class,
    }


def _ratio(top: torch.Tensor, bottom: torch.Tensor) -> torch.Tensor:
    return torch.where(bottom > 0, top / bottom.clamp(min=1e-12), torch.full_like(top, float("nan")))


def _value(x: torch.Tensor) -> float | None:
    return None if torch.isnan(x) else float(x)


def _mean(values: torch.Tensor, counted: list[int]) -> float:
    return float(values[counted].mean()) if counted else 0.0
