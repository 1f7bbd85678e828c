"""The generated detection scenes: valid COCO, deterministic, and boxes that sit on drawn objects."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from torchworks.tasks.object_detection.scenes import CLASSES, make_scenes, render_scene


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_scenes(tmp_path_factory.mktemp("scenes") / "a", n=12, size=128, seed=3)


def _coco(folder: Path) -> dict:
    return json.loads((folder / "annotations.json").read_text())


def test_the_annotations_are_valid_coco(tiny: Path) -> None:
    coco = _coco(tiny)
    assert {"images", "annotations", "categories"} <= set(coco)
    assert [c["name"] for c in coco["categories"]] == list(CLASSES)
    category_ids = {c["id"] for c in coco["categories"]}
    images = {image["id"]: image for image in coco["images"]}
    assert len(images) == 12
    for image in images.values():
        assert (image["width"], image["height"]) == (128, 128)
        with Image.open(tiny / image["file_name"]) as picture:
            assert picture.size == (128, 128) and picture.mode == "RGB"
    ids = [a["id"] for a in coco["annotations"]]
    assert len(ids) == len(set(ids)) > 0
    for ann in coco["annotations"]:
        assert ann["image_id"] in images and ann["category_id"] in category_ids and ann["iscrowd"] == 0
        x, y, w, h = ann["bbox"]
        assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= 128 and y + h <= 128
        assert ann["area"] == w * h > 0
        assert 0.3 <= ann["visibility"] <= 1.0  # more hidden than 70 %: not drawn at all


def test_same_seed_same_bytes_and_pixels_other_seed_other_scenes(tiny: Path, tmp_path: Path) -> None:
    again = make_scenes(tmp_path / "b", n=12, size=128, seed=3)
    assert (again / "annotations.json").read_bytes() == (tiny / "annotations.json").read_bytes()
    for image in _coco(tiny)["images"]:
        first = np.asarray(Image.open(tiny / image["file_name"]))
        assert np.array_equal(first, np.asarray(Image.open(again / image["file_name"])))
    other = make_scenes(tmp_path / "c", n=12, size=128, seed=4, image_format="png")
    assert _coco(other)["annotations"] != _coco(tiny)["annotations"]
    # a scene depends on its index, not on how many were asked for; png keeps the exact pixels
    scene = render_scene(5, size=128, seed=4)
    assert np.array_equal(np.asarray(Image.open(other / "images" / "000005.png")), scene.image)


@pytest.fixture(scope="module")
def moderate() -> list:
    return [render_scene(index, size=320, seed=0, keep_background=True) for index in range(60)]


def test_empty_images_sizes_and_classes(moderate: list) -> None:
    empty = sum(not scene.boxes for scene in moderate)
    assert 0.04 <= empty / len(moderate) <= 0.2
    areas = [w * h for scene in moderate for _, _, w, h in scene.boxes]
    kinds = Counter("small" if a < 32 ** 2 else "medium" if a < 96 ** 2 else "large" for a in areas)
    assert all(kinds[k] >= 0.05 * len(areas) for k in ("small", "medium", "large")), kinds
    labels = Counter(label for scene in moderate for label in scene.labels)
    assert set(labels) == set(range(len(CLASSES)))
    assert any(v < 1.0 for scene in moderate for v in scene.visibility)  # occlusion happens
    assert max(len(scene.boxes) for scene in moderate) >= 5


def test_boxes_cover_drawn_pixels(moderate: list) -> None:
    for scene in moderate:
        changed = np.abs(scene.image.astype(int) - scene.background.astype(int)).max(axis=-1) > 0
        for (x, y, w, h), visible in zip(scene.boxes, scene.visibility):
            inside = changed[y:y + h, x:x + w]
            assert inside.mean() > 0.25, (x, y, w, h)
            if visible == 1.0:  # nothing in front: the object reaches every side of its box
                assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
        # outside every box and clutter, the image is the background
        if not scene.boxes:
            assert changed.mean() < 0.6


def test_the_same_class_comes_in_many_colours(moderate: list) -> None:
    """Colour alone must not tell the classes apart: the mean colours of one class spread widely."""
    spread = {}
    for label in range(len(CLASSES)):
        means = [scene.image[y:y + h, x:x + w].reshape(-1, 3).mean(axis=0)
                 for scene in moderate for (x, y, w, h), lab in zip(scene.boxes, scene.labels) if lab == label]
        spread[CLASSES[label]] = float(np.std(means, axis=0).mean())
    assert all(value > 15 for value in spread.values()), spread
