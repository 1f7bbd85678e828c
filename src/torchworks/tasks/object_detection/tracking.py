"""Object ids kept across a video's frames (``track=true``): ByteTrack's two-stage association.

Each frame, every live track's box is first moved by its velocity (a constant-velocity model,
smoothed: ``v = 0.5 v + 0.5 (observed step)``, per box side, in pixels per frame, so a frame gap
moves it that many steps). Then:

1. the confident detections (score >= ``high``, the prediction's ``conf``) are matched to all live
   tracks, tracked or lost, by IoU with the predicted boxes (Hungarian assignment, IoU >= ``match_iou``,
   same class only);
2. the weak detections (``low`` <= score < ``high``: a partly hidden object) are matched to the tracks
   of the previous frame still unmatched, at a stricter IoU (``low_match_iou``): they continue a track
   but never start one;
3. a confident detection left over starts a new track with the next id; a track left over is lost,
   and removed after ``keep_lost`` frames unseen (so an object that disappears behind another for a
   moment comes back with its id).

Ids start at 1 for each video; the engine gives every clip its own :class:`Tracker`. Written here
rather than taken from a library: supervision (0.26+) moved its ByteTrack into the ``trackers``
package, which needs OpenCV and supervision; this is ~150 lines of numpy and scipy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass
class Track:
    """One object followed across frames: its id, class, last box (XYXY), velocity per frame, the frame
    it was last seen in."""

    id: int
    label: int
    box: np.ndarray
    velocity: np.ndarray
    seen: int

    def predicted(self, frame: int) -> np.ndarray:
        """Where the box should be at ``frame``, moving as it moved."""
        return self.box + self.velocity * (frame - self.seen)

    def update(self, box: np.ndarray, frame: int) -> None:
        step = (box - self.box) / max(1, frame - self.seen)
        self.velocity = 0.5 * self.velocity + 0.5 * step
        self.box, self.seen = box, frame


def iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``boxes_a`` (N x 4 XYXY) with every box of ``boxes_b`` (M x 4): N x M."""
    if not len(boxes_a) or not len(boxes_b):
        return np.zeros((len(boxes_a), len(boxes_b)))
    top_left = np.maximum(boxes_a[:, None, :2], boxes_b[None, :, :2])
    bottom_right = np.minimum(boxes_a[:, None, 2:], boxes_b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(axis=2)
    area_a = np.clip(boxes_a[:, 2:] - boxes_a[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(boxes_b[:, 2:] - boxes_b[:, :2], 0, None).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


class Tracker:
    """ByteTrack-like tracking of one video's detections, frame after frame.

    Args:
        high: Detections at least this sure start and continue tracks (the prediction's ``conf``).
        low: Weaker ones down to this only continue a track.
        match_iou: Least IoU between a predicted track box and a confident detection.
        low_match_iou: Least IoU for a weak detection.
        keep_lost: Frames a track is kept unseen before it is removed.
    """

    def __init__(self, *, high: float = 0.25, low: float = 0.1, match_iou: float = 0.2, low_match_iou: float = 0.5,
                 keep_lost: int = 30):
        self.high, self.low = high, min(low, high)
        self.match_iou, self.low_match_iou = match_iou, low_match_iou
        self.keep_lost = keep_lost
        self.tracks: list[Track] = []
        self.next_id = 1
        self.last_frame: int | None = None

    def update(self, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, frame: int) -> np.ndarray:
        """Track ids for one frame's detections (N x 4 XYXY, scores, class indices), frames in order.

        Returns:
            One id per detection; 0 for a weak detection that continued no track (drop it).
        """
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.int64)
        ids = np.zeros(len(boxes), dtype=np.int64)
        previous = self.last_frame
        self.last_frame = frame
        self.tracks = [t for t in self.tracks if frame - t.seen <= self.keep_lost]
        confident = np.flatnonzero(scores >= self.high)
        weak = np.flatnonzero((scores >= self.low) & (scores < self.high))

        left = self._associate(list(range(len(self.tracks))), confident, boxes, labels, frame, self.match_iou, ids)
        recent = [i for i in left if self.tracks[i].seen == previous]  # tracked in the last frame, not lost
        self._associate(recent, weak, boxes, labels, frame, self.low_match_iou, ids)
        for detection in confident:
            if ids[detection] == 0:
                track = Track(self.next_id, int(labels[detection]), boxes[detection].copy(), np.zeros(4), frame)
                self.tracks.append(track)
                ids[detection] = track.id
                self.next_id += 1
        return ids

    def _associate(self, tracks: list[int], detections: np.ndarray, boxes: np.ndarray, labels: np.ndarray,
                   frame: int, least_iou: float, ids: np.ndarray) -> list[int]:
        """Match ``tracks`` (indices) to ``detections`` (indices), updating both; the tracks left over."""
        if not tracks or not len(detections):
            return tracks
        predicted = np.stack([self.tracks[i].predicted(frame) for i in tracks])
        overlap = iou_matrix(predicted, boxes[detections])
        same_class = np.array([self.tracks[i].label for i in tracks])[:, None] == labels[detections][None, :]
        overlap = np.where(same_class, overlap, 0.0)
        rows, cols = linear_sum_assignment(-overlap)
        matched = set()
        for row, col in zip(rows, cols):
            if overlap[row, col] < least_iou:
                continue
            track = self.tracks[tracks[row]]
            track.update(boxes[detections[col]].copy(), frame)
            ids[detections[col]] = track.id
            matched.add(row)
        return [index for row, index in enumerate(tracks) if row not in matched]
