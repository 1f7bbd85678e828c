"""Tiling: windows cover the picture and stay whole, boxes come back in the picture's pixels, an object
across a window border is found once and whole, and small objects a letterbox would shrink away are
found."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from torchworks.tasks.object_detection.predicting import ImageItem
from torchworks.tasks.object_detection.tiling import Tile, cut_by_window, merge_boxes, tiles_of


def test_windows_overlap_and_the_last_ends_at_the_edge():
    picture = ImageItem("big.png", None, 200, 300)  # type: ignore[arg-type]
    parts = tiles_of(picture, 128, 0.25)
    assert [tile.window for tile in parts[:3]] == [(0, 0, 128, 128), (96, 0, 224, 128), (172, 0, 300, 128)]
    assert len(parts) == 3 * 2 + 1 and parts[-1].window == (0, 0, 300, 200), "then the whole picture"
    assert all(tile.width == tile.height == 128 for tile in parts[:-1])
    assert tiles_of(picture, 0, 0.2) == [picture] and tiles_of(picture, 300, 0.2) == [picture]


def test_a_box_cut_by_a_window_border_joins_its_other_piece():
    # windows (0..128) and (96..224) along x; an object at x 110..150 is cut by the first window's right edge
    boxes = np.array([[110, 20, 128, 40], [110, 20, 150, 40], [300, 300, 320, 320.0]])
    cut = cut_by_window(boxes[:1], (0, 0, 128, 128), 400, 400)
    assert list(cut) == [True]
    assert list(cut_by_window(boxes[1:2], (96, 0, 224, 128), 400, 400)) == [False]
    merged, scores, labels = merge_boxes(boxes, np.array([0.9, 0.6, 0.5]), np.array([0, 0, 0]),
                                         np.array([True, False, False]), iou=0.5, max_det=10)
    assert merged.tolist() == [[110, 20, 150, 40], [300, 300, 320, 320]] and scores.tolist() == [0.9, 0.5]
    # not cut, not overlapping enough: two objects stay two; another class never merges
    apart, _, _ = merge_boxes(boxes[:2], np.array([0.9, 0.6]), np.array([0, 0]), np.array([False, False]),
                              iou=0.5, max_det=10)
    assert len(apart) == 2
    other, _, _ = merge_boxes(boxes[:2], np.array([0.9, 0.6]), np.array([0, 1]), np.array([True, True]),
                              iou=0.5, max_det=10)
    assert len(other) == 2


def test_an_object_on_a_tile_border_is_found_once_and_whole(tmp_path, blob_predict):
    canvas = Image.new("RGB", (256, 256), (114, 114, 114))
    canvas.paste((255, 0, 0), (110, 60, 150, 80))  # across the border of windows 0..128 and 102..230
    canvas.paste((0, 255, 0), (20, 200, 36, 216))
    canvas.save(tmp_path / "border.png")
    [record] = blob_predict([str(tmp_path / "border.png")], tile=128, overlap=0.2).records
    assert (record["width"], record["height"], record["count"]) == (256, 256, 2)
    red = next(box for box in record["boxes"] if box["label"] == "red")
    assert red["xyxy"] == pytest.approx([110, 60, 150, 80], abs=1)


def test_small_objects_on_a_large_image_are_found_with_tiles(tmp_path, blob_predict):
    canvas = Image.new("RGB", (1024, 768), (114, 114, 114))
    spots = [(100, 100), (500, 300), (900, 650), (250, 600)]
    for x, y in spots:  # 14 px objects: 1.75 px once the 1024 px side is letterboxed to 128
        canvas.paste((255, 0, 0), (x, y, x + 14, y + 14))
    canvas.save(tmp_path / "large.png")
    [plain] = blob_predict([str(tmp_path / "large.png")], least=3).records
    assert plain["count"] == 0
    [tiled] = blob_predict([str(tmp_path / "large.png")], least=3, tile=256, overlap=0.2).records
    assert tiled["count"] == len(spots) and (tiled["width"], tiled["height"]) == (1024, 768)
    found = sorted(box["xyxy"] for box in tiled["boxes"])
    assert np.array(found) == pytest.approx(np.array([[x, y, x + 14, y + 14] for x, y in sorted(spots)]), abs=2)


def test_a_broken_tiled_image_is_one_error_row(tmp_path, blob_predict):
    big = tmp_path / "big.png"
    Image.new("RGB", (400, 300), (114, 114, 114)).save(big)
    data = big.read_bytes()
    big.write_bytes(data[: len(data) // 2])
    Image.new("RGB", (400, 300), (114, 114, 114)).save(tmp_path / "fine.png")
    result = blob_predict([str(big), str(tmp_path / "fine.png")], tile=128, overlap=0.2)
    assert [("error" in r, r["input"][-8:]) for r in result.records] == [(True, "/big.png"), (False, "fine.png")]
    assert len(result.bad) == 1 and result.inputs == 2


def test_tiles_carry_their_picture():
    picture = ImageItem("a.png", None, 300, 300)  # type: ignore[arg-type]
    tile = Tile(picture, (0, 0, 128, 128))
    assert (tile.name, tile.width, tile.height) == ("a.png", 128, 128)
