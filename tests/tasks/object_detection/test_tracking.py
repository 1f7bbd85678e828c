"""Tracking: ids stay with their objects through a crossing and a missed frame, weak boxes only continue
tracks, classes never swap, and each video starts its ids again."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from torchworks.tasks.object_detection.tracking import Tracker, iou_matrix


def _box(x: float, y: float, side: float = 20) -> list[float]:
    return [x, y, x + side, y + side]


def test_iou_matrix():
    overlap = iou_matrix(np.array([_box(0, 0), _box(100, 100)]), np.array([_box(10, 0), _box(0, 0)]))
    assert overlap == pytest.approx(np.array([[200 / 600, 1.0], [0.0, 0.0]]))


def test_two_objects_crossing_keep_their_ids():
    tracker = Tracker(high=0.5)
    owners = {}
    for frame in range(25):  # A moves right, B left, same class, overlapping in the middle frames: where
        a, b = _box(10 + 8 * frame, 50), _box(190 - 8 * frame, 52)  # each was last seen, the other now is
        order = [0, 1] if frame % 2 else [1, 0]  # detections come in any order
        boxes = np.array([[a, b][i] for i in order])
        ids = tracker.update(boxes, np.array([0.9, 0.8]), np.array([0, 0]), frame)
        for position, which in enumerate(order):
            owners.setdefault("AB"[which], set()).add(int(ids[position]))
    assert owners == {"A": {2}, "B": {1}}  # B came first in frame 0


def test_a_missed_frame_and_a_moment_out_of_sight_keep_the_id():
    tracker = Tracker(high=0.5, keep_lost=5)
    ids = []
    for frame in range(20):
        if frame in (5, 11, 12, 13):  # not detected there
            tracker.update(np.zeros((0, 4)), np.zeros(0), np.zeros(0), frame)
            continue
        ids.append(int(tracker.update(np.array([_box(8 * frame, 30)]), np.array([0.9]), np.array([1]), frame)[0]))
    assert set(ids) == {1}, "predicted forward by its velocity, it is found again"

    gone = Tracker(high=0.5, keep_lost=2)
    gone.update(np.array([_box(0, 0)]), np.array([0.9]), np.array([0]), 0)
    assert gone.update(np.array([_box(0, 0)]), np.array([0.9]), np.array([0]), 10)[0] == 2, "lost too long: new id"


def test_weak_boxes_continue_tracks_but_start_none_and_classes_never_swap():
    tracker = Tracker(high=0.5, low=0.1)
    assert list(tracker.update(np.array([_box(0, 0), _box(100, 0)]), np.array([0.9, 0.3]), np.array([0, 0]), 0)) \
        == [1, 0]
    assert list(tracker.update(np.array([_box(2, 0)]), np.array([0.3]), np.array([0]), 1)) == [1]  # partly hidden
    assert list(tracker.update(np.array([_box(4, 0)]), np.array([0.9]), np.array([1]), 2)) == [2]  # another class


def test_ids_follow_objects_through_a_video_and_start_again_in_the_next(tmp_path, write_clip, blob_predict):
    frames = []
    for index in range(20):  # a red and a green square crossing, one red missed at frame 7
        frame = Image.new("RGB", (128, 128), (114, 114, 114))
        if index != 7:
            frame.paste((255, 0, 0), (4 + 5 * index, 30, 20 + 5 * index, 46))
        frame.paste((0, 255, 0), (108 - 5 * index, 36, 124 - 5 * index, 52))
        frames.append(frame)
    first = write_clip(tmp_path / "one.mp4", frames)
    second = write_clip(tmp_path / "two.mp4", frames[:5])
    records = blob_predict([str(first), str(second)], track=True).records
    by_label: dict[tuple[str, str], set[int]] = {}
    for record in records:
        for box in record["boxes"]:
            by_label.setdefault((record["input"][-7:], box["label"]), set()).add(box["track_id"])
    assert by_label[("one.mp4", "red")] == {1} and by_label[("one.mp4", "green")] == {2}
    assert records[7]["count"] == 1
    assert by_label[("two.mp4", "red")] == {1} and by_label[("two.mp4", "green")] == {2}, "tracks reset per video"


def test_images_get_no_track_ids(tmp_path, blob_predict):
    picture = Image.new("RGB", (64, 64), (114, 114, 114))
    picture.paste((255, 0, 0), (10, 10, 30, 30))
    picture.save(tmp_path / "still.png")
    [record] = blob_predict([str(tmp_path / "still.png")], track=True).records
    assert record["count"] == 1 and "track_id" not in record["boxes"][0] and "frame" not in record
