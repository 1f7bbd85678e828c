"""Sliced prediction for small objects on large images (``tile=SIZE overlap=F``).

An image (or video frame) larger than ``SIZE`` is cut into ``SIZE x SIZE`` windows that overlap their
neighbours by ``overlap`` of a side; the last window of a row or column is moved back to end at the
image's edge, so every window is whole. Each window is one item, letterboxed to the model's input
like any image, so an object keeps ``image_size / SIZE`` of its pixels instead of
``image_size / longer side``. The whole image, letterboxed as usual, is one more item, for objects too
large for a window.

The windows' boxes, moved back to the image's pixels, are merged (:func:`merge_boxes`), best first,
within each class: a box overlapping a kept one by more than ``iou`` is a duplicate (plain NMS); a
box *cut* by a window's inner edge (one touching an edge of its window that is not the image's) is a
piece of an object seen whole or in other pieces elsewhere, so when most of the smaller of the two
lies inside the other (intersection over the smaller box >= ``MERGE_IOS``) the kept box grows to
cover both. An object lying across a window border thus comes out once, whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from torchworks.image_windows import window_starts

MERGE_IOS = 0.5  # intersection over the smaller box above which a cut piece joins a box of its class
EDGE = 2.0  # pixels: a box side this close to a window's inner edge is cut by it


@dataclass(frozen=True, eq=False)
class Tile:
    """One window of a picture (an image or frame item): ``(left, top, right, bottom)`` in its pixels."""

    picture: Any
    window: tuple[int, int, int, int]

    @property
    def name(self) -> str:
        return self.picture.name

    @property
    def height(self) -> int:
        return self.window[3] - self.window[1]

    @property
    def width(self) -> int:
        return self.window[2] - self.window[0]


def tiles_of(picture: Any, size: int, overlap: float) -> list[Any]:
    """The items of a picture: itself when tiling is off or it fits in one window; else its windows and
    then the whole picture (as a window covering it)."""
    height, width = picture.height, picture.width
    if size <= 0 or max(height, width) <= size:
        return [picture]
    windows = [Tile(picture, (left, top, min(width, left + size), min(height, top + size)))
               for top in window_starts(height, size, overlap) for left in window_starts(width, size, overlap)]
    return windows + [Tile(picture, (0, 0, width, height))]


def cut_by_window(boxes: np.ndarray, window: tuple[int, int, int, int], height: int, width: int) -> np.ndarray:
    """Which boxes (N x 4 XYXY, in the picture's pixels) touch an inner edge of ``window``."""
    left, top, right, bottom = window
    cut = np.zeros(len(boxes), dtype=bool)
    if left > 0:
        cut |= boxes[:, 0] <= left + EDGE
    if top > 0:
        cut |= boxes[:, 1] <= top + EDGE
    if right < width:
        cut |= boxes[:, 2] >= right - EDGE
    if bottom < height:
        cut |= boxes[:, 3] >= bottom - EDGE
    return cut


def merge_boxes(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, cut: np.ndarray, *, iou: float,
                max_det: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The boxes of all windows of a picture merged into one set, best first (see the module's text).

    Returns:
        ``(boxes, scores, labels)`` of at most ``max_det`` boxes.
    """
    order = np.argsort(-scores, kind="stable")
    boxes, scores, labels, cut = boxes[order].astype(np.float64), scores[order], labels[order], cut[order]
    alive = np.ones(len(boxes), dtype=bool)
    kept: list[int] = []
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        kept.append(i)
        for j in range(i + 1, len(boxes)):
            if not alive[j] or labels[j] != labels[i]:
                continue
            inter = _intersection(boxes[i], boxes[j])
            area_i, area_j = _area(boxes[i]), _area(boxes[j])
            union = area_i + area_j - inter
            if union > 0 and inter / union > iou:
                alive[j] = False
            elif (cut[i] or cut[j]) and inter / max(min(area_i, area_j), 1e-9) >= MERGE_IOS:
                alive[j] = False
                boxes[i] = [min(boxes[i, 0], boxes[j, 0]), min(boxes[i, 1], boxes[j, 1]),
                            max(boxes[i, 2], boxes[j, 2]), max(boxes[i, 3], boxes[j, 3])]
                cut[i] = cut[i] and cut[j]  # a piece joined to a whole box makes it whole
    kept = kept[:max_det]
    return boxes[kept], scores[kept], labels[kept]


def _intersection(a: np.ndarray, b: np.ndarray) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _area(box: np.ndarray) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
