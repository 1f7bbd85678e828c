"""The figures of a detector's test report: precision-recall curves at IoU 0.50, the detection confusion
matrix with its background row and column, and test images with their ground truth beside the boxes
the model gave."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from torchworks.errors import DataError
from torchworks.report.plots import plt
from torchworks.tasks.object_detection.matching import ImageMatches

LEGEND_LIMIT = 12  # classes named in the precision-recall legend (the lowest AP50 first beyond this)
THUMBNAIL = 640  # longest side an image is drawn at; its boxes stay in the stored image's pixels
MISSED, FALSE_ALARM = "#d62728", "#d62728"
LABELLED = 15  # boxes per image given their label and score, best first (the others are drawn bare)


def class_colours(count: int) -> list[tuple[float, ...]]:
    """One colour per class, the same in every figure (matplotlib's tab10, tab20 past ten classes)."""
    cmap = plt.get_cmap("tab10" if count <= 10 else "tab20")
    return [cmap(k % cmap.N) for k in range(count)]


def precision_recall_curves(recall: np.ndarray, curves: dict[str, np.ndarray | None], classes: Sequence[str],
                            map_50: float | None) -> Figure | None:
    """COCO's precision at each recall point at IoU 0.50, one line per class with a ground-truth box,
    and the mean over those classes (whose area is mAP50) as a thick black line. The legend gives each
    class's AP50; with more than ``LEGEND_LIMIT`` classes it names those with the lowest."""
    drawn = {name: curve for name, curve in curves.items() if curve is not None}
    if not drawn:
        return None
    colours = dict(zip(classes, class_colours(len(classes))))
    fig, ax = plt.subplots(figsize=(8.2, 4.8))
    ranked = sorted(drawn, key=lambda name: float(drawn[name].mean()))
    named = set(ranked[:LEGEND_LIMIT])
    for name in sorted(drawn, key=lambda name: -float(drawn[name].mean())):
        curve = drawn[name]
        ax.plot(recall, curve, color=colours[name], linewidth=1.4 if name in named else 0.7,
                label=f"{name}  {curve.mean():.3f}" if name in named else None)
    mean = np.mean(np.stack(list(drawn.values())), axis=0)
    ax.plot(recall, mean, color="black", linewidth=2.6,
            label=f"all classes  {map_50 if map_50 is not None else mean.mean():.3f} (mAP50)")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.04),
           title="Precision-recall at IoU 0.50 (test, COCO's 101 recall points)")
    ax.grid(alpha=0.3)
    hidden = len(drawn) - len(named)
    # beside the axes, not over them: a weak model's curves fill the lower left where a legend would sit
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, borderaxespad=0,
              title=f"AP50, lowest {len(named)} of {len(drawn)}" if hidden else "AP50 by class", title_fontsize=8)
    fig.tight_layout()
    return fig


def confusion_figure(matrix: np.ndarray, classes: Sequence[str], conf: float, iou: float) -> Figure:
    """The detection confusion matrix, counts (left) and each row's share (right). Rows are the true
    class, and ``background`` (boxes on no object: false alarms); columns the predicted class, and
    ``background`` (objects no box found: misses)."""
    names = [*classes, "background"]
    n = len(names)
    side = max(3.8, 0.45 * n + 1.9)
    fig, (count_ax, share_ax) = plt.subplots(1, 2, figsize=(2 * side + 0.6, side + 0.3))
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape, dtype=float), where=rows > 0)
    count_ax.imshow(matrix, cmap="Blues", vmin=0, vmax=max(1, int(matrix.max())))
    share_ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    count_ax.set_title("Counts", fontsize=10)
    share_ax.set_title("Share of each row (recall on the diagonal)", fontsize=10)
    small = n > 12
    for ax, values, scale, text in ((count_ax, matrix, max(1, int(matrix.max())), lambda v: f"{int(v)}"),
                                    (share_ax, share, 1.0, lambda v: f"{v:.2f}".lstrip("0") if v else "0")):
        ax.set_xticks(range(n), names, rotation=45, ha="right", fontsize=8 if small else 9)
        ax.set_yticks(range(n), names, fontsize=8 if small else 9)
        ax.set(xlabel="predicted (background: missed)", ylabel="true (background: false alarm)")
        ax.axhline(n - 1.5, color="grey", linewidth=0.8)
        ax.axvline(n - 1.5, color="grey", linewidth=0.8)
        if n <= 30:
            for i in range(n):
                for j in range(n):
                    if i == j == n - 1:
                        continue
                    colour = "white" if values[i, j] / scale > 0.5 else "black"
                    ax.text(j, i, text(values[i, j]), ha="center", va="center", color=colour,
                            fontsize=7 if small else 8)
    fig.suptitle(f"Detection confusion matrix (test): boxes with score >= {conf:g} matched to objects at "
                 f"IoU >= {iou:g}, whatever their class", fontsize=10)
    fig.tight_layout()
    return fig


def image_pairs(images: Sequence[ImageMatches], paths: Sequence[Path], classes: Sequence[str], title: str,
                max_pixels: int, conf: float, pairs_per_row: int = 2) -> Figure | None:
    """Each image twice, side by side: its ground truth (left: dashed boxes in the class's colour, a
    missed object in red) and the boxes the model gave (right: solid, with label and score; a false alarm
    or a wrong class in red; only the ``LABELLED`` best are labelled). Images that can no longer be read are
    left out; None when none can."""
    from torchworks.image_files import decode_rgb

    shown = []
    for matches, path in zip(images, paths):
        try:
            picture = decode_rgb(path, max_pixels)
        except DataError:
            continue
        size = picture.size
        picture.thumbnail((THUMBNAIL, THUMBNAIL))
        shown.append((matches, path, np.asarray(picture), size))
    if not shown:
        return None
    colours = class_colours(len(classes))
    columns = 2 * min(pairs_per_row, len(shown))
    rows = -(-len(shown) // (columns // 2))
    fig, axes = plt.subplots(rows, columns, figsize=(2.75 * columns, 2.95 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for position, (matches, path, pixels, (width, height)) in enumerate(shown):
        row, column = divmod(position, columns // 2)
        truth_ax, predicted_ax = axes[row, 2 * column], axes[row, 2 * column + 1]
        for ax in (truth_ax, predicted_ax):
            ax.imshow(pixels, extent=(0, width, height, 0))
            ax.set_xlim(0, width)
            ax.set_ylim(height, 0)
        found = matches.found
        for box, label, crowd, hit in zip(matches.truth, matches.truth_labels, matches.crowd, found):
            colour = "#999999" if crowd else colours[int(label)] if hit else MISSED
            _box(truth_ax, box, colour, "crowd" if crowd else classes[int(label)], dashed=True,
                 thick=not hit)
        for rank, (box, label, score, match, ignored) in enumerate(zip(matches.boxes, matches.labels, matches.scores,
                                                                       matches.match, matches.ignored)):
            right = match >= 0 and matches.truth_labels[match] == label
            colour = colours[int(label)] if right or ignored else FALSE_ALARM
            text = f"{classes[int(label)]} {score:.2f}" if rank < LABELLED else None
            _box(predicted_ax, box, colour, text, dashed=False, thick=not right)
        objects = int((~matches.crowd).sum())
        truth_ax.set_title(f"{_short(path.name)}\ntruth: {objects} objects, {matches.misses} missed", fontsize=7)
        predicted_ax.set_title(f"model (score >= {conf:g}): {len(matches.boxes)} boxes\n"
                               f"{matches.false_alarms} false alarms, {matches.wrong_class} wrong class", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _box(ax, box: np.ndarray, colour, text: str | None, *, dashed: bool, thick: bool) -> None:
    x1, y1, x2, y2 = (float(v) for v in box)
    ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=colour,
                           linewidth=2.0 if thick else 1.3, linestyle="--" if dashed else "-"))
    if text is None:
        return
    ax.text(x1, y1, text, fontsize=5.5, color="white", va="bottom", ha="left", clip_on=True,
            bbox={"facecolor": colour, "edgecolor": "none", "pad": 0.6, "alpha": 0.85})


def _short(name: str, limit: int = 34) -> str:
    return name if len(name) <= limit else name[: limit - 3] + "..."
