"""What the boxes a user gets (at the prediction ``conf``) did, image by image: each matched to the ground
truth regardless of class, so a box is a hit, a wrong class, or a false alarm, and an object is found or
missed. The detection confusion matrix and the report's worst images are made of these matches.

Matching is greedy, as COCO's: boxes in descending score take the unmatched ground-truth box they
overlap most, at IoU ``>= iou``. A box that matches no object but lies mostly inside a crowd region
(intersection over the box's own area ``>= iou``) is ignored, neither a hit nor a false alarm; crowd
regions are never missed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchvision.ops import box_iou

UNMATCHED = -1


@dataclass
class ImageMatches:
    """One image's boxes and how they matched (boxes ``x1 y1 x2 y2`` in the stored image's pixels).

    Attributes:
        index: The image's position in the test split.
        boxes, scores, labels: The predicted boxes, best first.
        truth, truth_labels, crowd: The ground truth.
        match: Per predicted box, the index of the ground-truth box it matched, or -1.
        ignored: Per predicted box, True when it matched nothing but fell inside a crowd region.
    """

    index: int
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    truth: np.ndarray
    truth_labels: np.ndarray
    crowd: np.ndarray
    match: np.ndarray
    ignored: np.ndarray

    @property
    def hits(self) -> int:
        """Boxes on an object, of its class."""
        matched = self.match >= 0
        return int((self.labels[matched] == self.truth_labels[self.match[matched]]).sum())

    @property
    def wrong_class(self) -> int:
        """Boxes on an object, of another class."""
        matched = self.match >= 0
        return int((self.labels[matched] != self.truth_labels[self.match[matched]]).sum())

    @property
    def false_alarms(self) -> int:
        """Boxes on no object (nor inside a crowd region)."""
        return int(((self.match < 0) & ~self.ignored).sum())

    @property
    def found(self) -> np.ndarray:
        """Per ground-truth box, whether some predicted box matched it (crowd regions count as found)."""
        found = self.crowd.copy()
        found[self.match[self.match >= 0]] = True
        return found

    @property
    def misses(self) -> int:
        """Objects no box matched."""
        return int((~self.found).sum())

    @property
    def errors(self) -> int:
        """Misses, false alarms and wrong classes: how much is wrong in this image."""
        return self.misses + self.false_alarms + self.wrong_class


def match_image(index: int, boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, truth: torch.Tensor,
                truth_labels: torch.Tensor, crowd: torch.Tensor, iou: float = 0.5) -> ImageMatches:
    """Match one image's predicted boxes to its ground truth, whatever their classes (see the module)."""
    order = torch.argsort(scores, descending=True, stable=True)
    boxes, scores, labels = boxes[order].float(), scores[order].float(), labels[order].long()
    truth, truth_labels, crowd = truth.float().reshape(-1, 4), truth_labels.long(), crowd.bool()
    match = np.full(len(boxes), UNMATCHED, dtype=np.int64)
    ignored = np.zeros(len(boxes), dtype=bool)
    real = torch.nonzero(~crowd).flatten()
    if len(boxes) and len(real):
        overlaps = box_iou(boxes, truth[real]).numpy()
        taken = np.zeros(len(real), dtype=bool)
        for row in range(len(boxes)):
            candidates = np.where(taken, -1.0, overlaps[row])
            best = int(candidates.argmax())
            if candidates[best] >= iou:
                taken[best] = True
                match[row] = int(real[best])
    regions = truth[crowd]
    if len(boxes) and len(regions):
        inside = _intersection(boxes, regions) / (boxes[:, 2:] - boxes[:, :2]).clamp(min=0).prod(dim=1, keepdim=True)
        ignored = (match < 0) & (inside.max(dim=1).values >= iou).numpy()
    return ImageMatches(index, boxes.numpy(), scores.numpy(), labels.numpy(), truth.numpy(), truth_labels.numpy(),
                        crowd.numpy(), match, ignored)


def _intersection(boxes: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
    top_left = torch.maximum(boxes[:, None, :2], others[None, :, :2])
    bottom_right = torch.minimum(boxes[:, None, 2:], others[None, :, 2:])
    return (bottom_right - top_left).clamp(min=0).prod(dim=2)


class DetectionConfusion:
    """The detection confusion matrix, added to image by image.

    ``matrix[i, j]`` counts objects of true class ``i`` that a box of class ``j`` matched. The last row
    (``background``) counts false alarms by predicted class, the last column misses by true class; the
    corner stays 0.
    """

    def __init__(self, classes: int):
        self.classes = classes
        self.matrix = np.zeros((classes + 1, classes + 1), dtype=np.int64)

    def add(self, matches: ImageMatches) -> None:
        background = self.classes
        matched = matches.match >= 0
        np.add.at(self.matrix, (matches.truth_labels[matches.match[matched]], matches.labels[matched]), 1)
        alarms = (~matched) & ~matches.ignored
        np.add.at(self.matrix, (np.full(int(alarms.sum()), background), matches.labels[alarms]), 1)
        missed = ~matches.found
        np.add.at(self.matrix, (matches.truth_labels[missed], np.full(int(missed.sum()), background)), 1)
