"""The report's segmentation figures: test images beside their truth, prediction and errors; IoU and Dice
per class; the pixel confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from torchworks.report.plots import plt
from torchworks.tasks.segmentation.drawing import FALSE_NEGATIVE, FALSE_POSITIVE, error_map, overlay

PANEL_INCHES = 2.4


def comparison_figure(rows: Sequence[tuple[str, torch.Tensor, np.ndarray, np.ndarray]],
                      colours: Sequence[Sequence[int]], ignore_index: int, title: str) -> Figure:
    """One row per image ``(name, image [3, H, W] in [0, 1], truth H x W, prediction H x W)``: the image,
    the truth and the prediction over it, and the error map."""
    figure, axes = plt.subplots(len(rows), 4, figsize=(4 * PANEL_INCHES, PANEL_INCHES * len(rows)), squeeze=False)
    for row, (name, image, truth, predicted) in zip(axes, rows):
        pixels = (image.permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8)
        panels = (pixels, overlay(pixels, truth, colours, ignore_index=ignore_index),
                  overlay(pixels, predicted, colours), error_map(pixels, truth, predicted, ignore_index))
        for axis, panel, label in zip(row, panels, (name, "truth", "prediction", "errors")):
            axis.imshow(panel, interpolation="nearest")
            axis.set_title(label, fontsize=8)
            axis.axis("off")
    legend = [Patch(color=np.asarray(FALSE_POSITIVE) / 255, label="class predicted on background"),
              Patch(color=np.asarray(FALSE_NEGATIVE) / 255, label="class missed or confused")]
    figure.legend(handles=legend, loc="lower center", ncol=2, fontsize=8, frameon=False)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout(rect=(0, 0.03, 1, 0.97))
    return figure


def class_scores_figure(per_class: dict[str, dict[str, Any]]) -> Figure:
    """IoU and Dice of each class as paired bars (a class absent from the test split has none)."""
    names = list(per_class)
    iou = [per_class[n]["iou"] if per_class[n]["iou"] is not None else np.nan for n in names]
    dice = [per_class[n]["dice"] if per_class[n]["dice"] is not None else np.nan for n in names]
    figure, axis = plt.subplots(figsize=(max(4.0, 0.9 * len(names) + 2), 3.2))
    where = np.arange(len(names))
    axis.bar(where - 0.2, iou, width=0.4, label="IoU", color="#4c72b0")
    axis.bar(where + 0.2, dice, width=0.4, label="Dice", color="#dd8452")
    axis.set_xticks(where, names, rotation=30 if len(names) > 6 else 0, ha="right" if len(names) > 6 else "center")
    axis.set_ylim(0, 1)
    axis.set_ylabel("score (test pixels)")
    axis.legend(fontsize=8)
    axis.set_title("IoU and Dice per class")
    figure.tight_layout()
    return figure


def confusion_figure(matrix: torch.Tensor, labels: Sequence[str]) -> Figure:
    """The pixel confusion matrix, each row (true class) as shares of its pixels."""
    counts = matrix.double()
    shares = (counts / counts.sum(dim=1, keepdim=True).clamp(min=1)).numpy()
    size = max(3.5, 0.6 * len(labels) + 2)
    figure, axis = plt.subplots(figsize=(size, size * 0.85))
    image = axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    axis.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axis.set_yticks(range(len(labels)), labels)
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    if len(labels) <= 12:
        for (row, column), share in np.ndenumerate(shares):
            axis.text(column, row, f"{share:.2f}", ha="center", va="center", fontsize=7,
                      color="white" if share > 0.6 else "black")
    figure.colorbar(image, ax=axis, fraction=0.046)
    axis.set_title("Pixel confusion (share of each true class)")
    figure.tight_layout()
    return figure
