"""Figures shared by tasks and the engine: training curves, confusion matrices, ROC and precision-recall
curves, reliability diagrams, grids of sample predictions, bars."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

RIGHT, WRONG = "#2e8b3e", "#c62f2f"


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
    """The confusion matrix twice, side by side: counts (left) and normalised by row (right), where
    the diagonal is each class's recall and a row shows where that class's misses went."""
    n = len(labels)
    side = max(3.6, 0.42 * n + 1.8)
    fig, (count_ax, share_ax) = plt.subplots(1, 2, figsize=(2 * side + 0.6, side))
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix, dtype=float), where=rows > 0)
    count_ax.imshow(matrix, cmap="Blues", vmin=0, vmax=max(1, int(matrix.max())))
    share_ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    count_ax.set_title("Counts (test)")
    share_ax.set_title("Normalised by row: recall on the diagonal")
    written = n <= 30
    for ax, values, scale, text in ((count_ax, matrix, max(1, matrix.max()), lambda v: f"{int(v)}"),
                                    (share_ax, share, 1.0, lambda v: f"{v:.2f}".lstrip("0") if v else "0")):
        ax.set_xticks(range(n), labels, rotation=45, ha="right", fontsize=8 if n > 12 else 9)
        ax.set_yticks(range(n), labels, fontsize=8 if n > 12 else 9)
        ax.set(xlabel="predicted", ylabel="actual")
        if written:
            for i in range(values.shape[0]):
                for j in range(values.shape[1]):
                    colour = "white" if values[i, j] / scale > 0.5 else "black"
                    ax.text(j, i, text(values[i, j]), ha="center", va="center", color=colour,
                            fontsize=7 if n > 12 else 8)
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


def precision_recall_figure(curves: dict[str, tuple[np.ndarray, np.ndarray, float]], title: str,
                            legend_limit: int = 12) -> Figure:
    """Precision-recall curves, one per name: ``{name: (precision, recall, average precision)}``.

    With more than ``legend_limit`` curves, all are drawn and the legend names the ``legend_limit``
    with the lowest average precision: the classes worth a look.
    """
    fig, ax = plt.subplots(figsize=(6.2, 4.8))
    ranked = sorted(curves.items(), key=lambda item: item[1][2])
    named = {name for name, _ in ranked[:legend_limit]}
    for name, (precision, recall, ap) in sorted(curves.items(), key=lambda item: -item[1][2]):
        ax.plot(recall, precision, linewidth=1.4 if name in named else 0.8,
                label=f"{name} (AP {ap:.3f})" if name in named else None, drawstyle="steps-post")
    ax.set(xlabel="recall", ylabel="precision", title=title, xlim=(0, 1.02), ylim=(0, 1.04))
    ax.grid(alpha=0.3)
    hidden = len(curves) - len(named)
    ax.legend(loc="lower left", fontsize=7, title=f"lowest {len(named)} of {len(curves)}" if hidden else None,
              title_fontsize=7)
    fig.tight_layout()
    return fig


def reliability_figure(confidence: np.ndarray, accuracy: np.ndarray, counts: np.ndarray, ece: float) -> Figure:
    """A reliability diagram: per confidence bin, how often the predicted class was right (bars)
    against the diagonal of perfect calibration, with the number of predictions per bin below.

    Args:
        confidence: Mean confidence of each bin (NaN for an empty bin).
        accuracy: Share of right answers in each bin (NaN for an empty bin).
        counts: Predictions per bin; the bins split [0, 1] evenly.
        ece: Expected calibration error, printed in the title.
    """
    bins = len(counts)
    edges = np.linspace(0, 1, bins + 1)
    centres, width = (edges[:-1] + edges[1:]) / 2, 1 / bins
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5.2, 5.4), sharex=True, height_ratios=(3, 1))
    filled = counts > 0
    top.bar(centres[filled], accuracy[filled], width=width * 0.95, color="#4c72b0", label="accuracy in bin")
    # the gap between what the model said (mean confidence) and what it got, hatched over or under the bar
    top.bar(centres[filled], confidence[filled] - accuracy[filled], bottom=accuracy[filled], width=width * 0.95,
            fill=False, edgecolor="#c44e52", hatch="///", linewidth=0.8, label="gap to mean confidence")
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated")
    top.set(ylabel="accuracy", ylim=(0, 1), title=f"Calibration (test): ECE {ece:.4f}")
    top.legend(loc="upper left", fontsize=8)
    bottom.bar(centres, counts, width=width * 0.95, color="#8a94a6")
    bottom.set(xlabel="confidence of the predicted class", ylabel="predictions", xlim=(0, 1))
    fig.tight_layout()
    return fig


def image_grid(images: Sequence[np.ndarray], captions: Sequence[str], title: str, columns: int = 8,
               correct: Sequence[bool] | None = None) -> Figure:
    """Images (H x W or H x W x C, uint8) with a caption each; with ``correct``, a green frame and
    caption for a right answer and a red one for a wrong answer."""
    columns = max(1, min(columns, len(images)))
    rows = max(1, -(-len(images) // columns))
    lines = max((caption.count("\n") + 1 for caption in captions), default=1)
    # at least as wide as the title, however few images there are; taller rows for longer captions
    fig, axes = plt.subplots(rows, columns, figsize=(max(1.6 * columns, 0.1 * len(title)), (1.55 + 0.25 * lines) * rows),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for position, (ax, image, caption) in enumerate(zip(axes.flat, images, captions)):
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        if correct is None:
            ax.set_title(caption, fontsize=7)
            continue
        colour = RIGHT if correct[position] else WRONG
        ax.set_title(caption, fontsize=7, color=colour)
        ax.axis("on")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_edgecolor(colour)
            spine.set_linewidth(3)
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
    ax.locator_params(axis="x", nbins=5)  # small values' long tick labels would run into each other
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


def runs_figure(names: Sequence[str], values: Sequence[float], baselines: Sequence[float | None], metric: str,
                best: str | None = None) -> Figure:
    """One bar per run (its value of ``metric``), the best run in green, and each run's best baseline
    as a diamond on its bar: which run to pick, and by how much it clears its baseline."""
    fig, ax = plt.subplots(figsize=(7.2, max(2.2, 0.36 * len(names) + 1.2)))
    colours = [RIGHT if name == best else "#4c72b0" for name in names]
    ax.barh(range(len(names)), values, color=colours)
    marked = [(row, value) for row, value in enumerate(baselines) if value is not None]
    if marked:
        ax.scatter([value for _, value in marked], [row for row, _ in marked], marker="D", color="#c44e52",
                   zorder=3, label="best baseline")
        ax.legend(loc="lower right", fontsize=8)
    for row, value in enumerate(values):
        ax.text(value, row, f" {value:.4g}", va="center", fontsize=8)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set(xlabel=metric, title=f"{metric} (test) by run")
    ax.set_xlim(0, max([*values, *(v for _, v in marked)]) * 1.15 or 1)
    fig.tight_layout()
    return fig


def close(fig: Figure) -> None:
    plt.close(fig)
