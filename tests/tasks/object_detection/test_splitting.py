"""Seeded splits of detection images: classes and negatives in every split, given splits kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from torchworks.errors import ConfigError, DataError
from torchworks.tasks.object_detection.annotations import DetectionData, DetectionImage
from torchworks.tasks.object_detection.splitting import (
    class_coverage,
    split_images,
    strata_of,
)


def image(name: str, labels: list[int]) -> DetectionImage:
    boxes = np.array([[1, 1, 5, 5]] * len(labels), dtype=np.float32).reshape(-1, 4)
    return DetectionImage(Path(name), 32, 32, boxes, np.array(labels, dtype=np.int64),
                          np.zeros(len(labels), dtype=bool), "annotations.json")


def unsplit(images: list[DetectionImage], classes=("car", "person", "sign")) -> DetectionData:
    return DetectionData(list(classes), {"all": images}, "COCO")


def street(n: int = 100) -> list[DetectionImage]:
    """Cars everywhere, persons in one image of three, signs in 6 images, negatives in one of ten."""
    items = []
    for i in range(n):
        if i % 10 == 9:
            items.append(image(f"{i}.jpg", []))
            continue
        labels = [0, 0]
        if i % 3 == 0:
            labels.append(1)
        if i in (4, 20, 31, 50, 77, 88):
            labels.append(2)
        items.append(image(f"{i}.jpg", labels))
    return items


def test_unsplit_data_is_split_by_fraction_with_every_class_and_negatives_in_every_split():
    images = street()
    splits = split_images(unsplit(images), 0.15, 0.15, seed=0)
    assert sum(map(len, splits)) == 100
    assert sorted(str(i.path) for s in splits for i in s) == sorted(str(i.path) for i in images)
    assert 66 <= len(splits.train) <= 74 and 13 <= len(splits.val) <= 17 and 13 <= len(splits.test) <= 17
    for part in splits:
        assert all(count > 0 for count in class_coverage(part, 3))
        assert any(len(item) == 0 for item in part)
    # the rare class (6 images) is spread over all three splits, most kept for training
    signs = [sum(2 in item.labels for item in part) for part in splits]
    assert signs[0] >= 2 and signs[1] >= 1 and signs[2] >= 1


def test_the_rarest_class_of_an_image_is_its_stratum():
    images = street()
    strata = strata_of(images)
    assert strata[4] == "class 2" and strata[3] == "class 1" and strata[1] == "class 0"
    assert strata[9] == "(no boxes)"


def test_same_seed_same_split_other_seed_differs_and_order_is_kept():
    data = unsplit(street())
    first = split_images(data, 0.2, 0.2, seed=3)
    assert split_images(data, 0.2, 0.2, seed=3) == first
    assert split_images(data, 0.2, 0.2, seed=4) != first
    order = [str(i.path) for i in data.images]
    for part in first:
        names = [str(i.path) for i in part]
        assert names == sorted(names, key=order.index)


def test_a_class_too_rare_to_hold_out_stays_in_training():
    images = [i if 2 not in i.labels else image(str(i.path), [0]) for i in street(40)]
    data = unsplit(images + [image("rare.jpg", [1, 2])])
    splits = split_images(data, 0.2, 0.2, seed=0)
    assert [str(i.path) for i in splits.train if 2 in i.labels] == ["rare.jpg"]


def test_presplit_data_is_kept_as_given():
    given = {"train": street(30), "val": street(10), "test": street(10)}
    data = DetectionData(["car", "person", "sign"], given, "YOLO")
    splits = split_images(data, 0.3, 0.3, seed=0)
    assert splits.train == given["train"] and splits.val == given["val"] and splits.test == given["test"]


def test_only_val_is_carved_out_of_train_when_train_and_test_are_given():
    train, test = street(50), street(10)
    data = DetectionData(["car", "person", "sign"], {"train": train, "test": test}, "COCO")
    splits = split_images(data, 0.2, 0.5, seed=0)
    assert splits.test == test
    assert 8 <= len(splits.val) <= 13 and len(splits.train) + len(splits.val) == 50
    assert {id(i) for i in splits.train + splits.val} == {id(i) for i in train}


def test_val_and_test_are_carved_when_only_train_is_given():
    train = street(50)
    data = DetectionData(["car", "person", "sign"], {"train": train}, "YOLO")
    splits = split_images(data, 0.1, 0.1, seed=0)
    assert splits.val and splits.test and len(splits.train) + len(splits.val) + len(splits.test) == 50


def test_no_training_images_and_bad_fractions_are_refused():
    with pytest.raises(DataError, match="no training images"):
        split_images(DetectionData(["car"], {"val": [image("a.jpg", [0])]}, "YOLO"), 0.1, 0.1, 0)
    with pytest.raises(ConfigError):
        split_images(unsplit(street(10)), 0.6, 0.5, 0)
    with pytest.raises(ConfigError):
        split_images(unsplit(street(10)), -0.1, 0.1, 0)


def test_generated_scenes_split_with_every_class_in_every_split(tmp_path):
    from torchworks.tasks.object_detection.coco_scenes import make_scenes
    from torchworks.tasks.object_detection.layout import read_detection_data

    data = read_detection_data(make_scenes(tmp_path / "scenes", n=40, size=96) / "annotations.json")
    splits = split_images(data, 0.2, 0.2, seed=0)
    assert sum(map(len, splits)) == 40
    for part in splits:
        assert all(count > 0 for count in class_coverage(part, len(data.classes))), class_coverage(part, 4)
