"""The street scenes written as a detection sample: valid COCO, deterministic to the byte."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from torchworks.scenes.street import CLASSES, render_scene
from torchworks.tasks.object_detection.coco_scenes import make_scenes


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
