"""Figures shared by tasks and the engine: training curves, confusion matrices, ROC curves, bars."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def training_curves(history: list[dict[str, Any]]) -> Figure | None:
    """Loss (left) and every other logged validation metric (right) per epoch."""
    if not history:
        return None
    epochs = [row["epoch"] for row in history]
    metric_keys = sorted({k for row in history for k in row if k.startswith("val_") and k != "val_loss"})
    fig, axes = plt.subplots(1, 2 if metric_keys else 1, figsize=(10 if metric_keys else 5.5, 3.6), squeeze=False)
    loss_ax = axes[0, 0]
    for key in ("train_loss", "val_loss"):
        values = [row.get(key) for row in history]
        if any(v is not None for v in values):
            loss_ax.plot(epochs, values, marker="o", label=key)
    loss_ax.set(title="Loss", xlabel="epoch")
    loss_ax.legend()
    if metric_keys:
        metric_ax = axes[0, 1]
        for key in metric_keys:
            metric_ax.plot(epochs, [row.get(key) for row in history], marker="o", label=key)
        metric_ax.set(title="Validation metrics", xlabel="epoch")
        metric_ax.legend()
    fig.tight_layout()
    return fig


def confusion_matrix_figure(matrix: np.ndarray, labels: Sequence[str]) -> Figure:
    """A confusion matrix with counts and row-normalised colour."""
    size = max(4.0, 0.5 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix, dtype=float), where=rows > 0)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="predicted", ylabel="actual", title="Confusion matrix (test)")
    if len(labels) <= 30:
        for i in range(matrix.shape[0]):
            for j in range(matrix.shape[1]):
                colour = "white" if share[i, j] > 0.5 else "black"
                ax.text(j, i, int(matrix[i, j]), ha="center", va="center", color=colour, fontsize=8)
    fig.tight_layout()
    return fig


def roc_figure(curves: dict[str, tuple[np.ndarray, np.ndarray, float]]) -> Figure:
    """ROC curves, one per name: ``{name: (fpr, tpr, auc)}``."""
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def image_grid(images: Sequence[np.ndarray], captions: Sequence[str], title: str, columns: int = 8) -> Figure:
    """Images (H x W or H x W x C, uint8) with a caption each."""
    columns = max(1, min(columns, len(images)))
    rows = max(1, -(-len(images) // columns))
    # at least as wide as the title, however few images there are
    fig, axes = plt.subplots(rows, columns, figsize=(max(1.6 * columns, 0.1 * len(title)), 1.8 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions):
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        ax.set_title(caption, fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def bar_chart(values: dict[str, float], title: str, xlabel: str, limit: tuple[float, float] | None = (0, 1)) -> Figure:
    """Horizontal bars, one per name, with the value printed at the end of each bar."""
    names = list(values)
    fig, ax = plt.subplots(figsize=(6.4, max(2.2, 0.32 * len(names) + 1.2)))
    ax.barh(range(len(names)), [values[n] for n in names], color="#4c72b0")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    for row, name in enumerate(names):
        ax.text(values[name], row, f" {values[name]:.3f}", va="center", fontsize=8)
    ax.set(title=title, xlabel=xlabel)
    if limit is not None:
        ax.set_xlim(limit[0], limit[1] * 1.12)
    fig.tight_layout()
    return fig


def confidence_histogram(confidence: np.ndarray, correct: np.ndarray) -> Figure:
    """How sure the model was on right and on wrong answers: where a review threshold could go."""
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    bins = np.linspace(0, 1, 21)
    ax.hist(confidence[correct], bins=bins, alpha=0.7, label=f"right ({int(correct.sum())})", color="#55a868")
    ax.hist(confidence[~correct], bins=bins, alpha=0.8, label=f"wrong ({int((~correct).sum())})", color="#c44e52")
    ax.set(title="Confidence of test predictions", xlabel="probability of the predicted class", ylabel="texts")
    ax.legend()
    fig.tight_layout()
    return fig


def close(fig: Figure) -> None:
    plt.close(fig)
