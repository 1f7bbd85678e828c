import numpy as np
import pytest

from torchworks.errors import DataError
from torchworks.tasks.object_detection.annotations import Collector
from torchworks.tasks.object_detection.yolo import label_path, read_yolo


def make_yolo(root, png, labels: dict[str, str], names="[car, person, sign]", extra=""):
    for split_name, text in labels.items():
        split, name = split_name.split("/")
        png(root / "images" / split / f"{name}.png")
        if text is not None:
            (root / "labels" / split).mkdir(parents=True, exist_ok=True)
            (root / "labels" / split / f"{name}.txt").write_text(text)
    val = "val: images/val\n" if any(key.startswith("val/") for key in labels) else ""
    (root / "data.yaml").write_text(f"train: images/train\n{val}names: {names}\n{extra}")
    return root / "data.yaml"


def test_labels_are_found_by_convention_and_converted_to_pixel_xyxy(tmp_path, png):
    path = make_yolo(tmp_path, png, {"train/a": "1 0.5 0.5 0.25 0.5\n\n0 0.25 0.25 0.5 0.5\n",
                                     "train/b": None, "val/c": ""})
    data = read_yolo(path, Collector())
    assert data.classes == ["car", "person", "sign"] and sorted(data.splits) == ["train", "val"]
    a, b = data.splits["train"]
    np.testing.assert_allclose(a.boxes, [[12, 8, 20, 24], [0, 0, 16, 16]])
    assert a.labels.tolist() == [1, 0] and not a.iscrowd.any() and (a.width, a.height) == (32, 32)
    assert len(b) == 0 and len(data.splits["val"][0]) == 0  # no label file / empty file: negatives
    assert a.source == "labels/train/a.txt"


def test_label_path_swaps_the_last_images_folder():
    from pathlib import Path
    assert label_path(Path("/d/images/x/images/train/a.jpg")) == Path("/d/images/x/labels/train/a.txt")
    assert label_path(Path("/d/pics/a.jpg")) == Path("/d/pics/a.txt")


def test_names_as_a_dict_path_key_and_txt_lists(tmp_path, png):
    root = tmp_path / "ds"
    png(root / "images" / "one.png")
    (root / "labels").mkdir()
    (root / "labels" / "one.txt").write_text("1 0.5 0.5 1 1\n")
    (root / "train.txt").write_text("./images/one.png\n")
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "data.yaml").write_text("path: ../ds\ntrain: train.txt\nnames: {0: cat, 1: dog}\n")
    data = read_yolo(tmp_path / "cfg" / "data.yaml", Collector())
    assert data.classes == ["cat", "dog"] and data.splits["train"][0].labels.tolist() == [1]
    np.testing.assert_allclose(data.splits["train"][0].boxes, [[0, 0, 32, 32]])


def test_a_polygon_line_counts_as_its_bounding_box(tmp_path, png):
    path = make_yolo(tmp_path, png, {"train/a": "2 0.25 0.25 0.75 0.25 0.5 0.75\n"})
    np.testing.assert_allclose(read_yolo(path, Collector()).images[0].boxes, [[8, 8, 24, 24]])


def test_out_of_image_boxes_are_clipped_and_zero_width_ones_dropped_by_file_and_line(tmp_path, png):
    path = make_yolo(tmp_path, png, {"train/a": "0 1.0 0.5 0.5 0.5\n0 0.5 0.5 0 0.5\n"})
    data = read_yolo(path, Collector())
    np.testing.assert_allclose(data.images[0].boxes, [[24, 8, 32, 24]])
    assert data.clipped == 1
    assert data.dropped == ["labels/train/a.txt line 2: box 16,8,16,24 zero or negative width or height"]


@pytest.mark.parametrize("line, message", [
    ("0 0.5 0.5 0.5", r"labels/train/a.txt line 2 has 4 values: expected 'class cx cy w h'"),
    ("7 0.5 0.5 0.5 0.5", (r"labels/train/a.txt line 2: class 7 is not declared: expected a class id 0..2 "
                          r"\(3 names in data.yaml\), got 7")),
    ("1 0.5 abc 0.5 0.5", r"labels/train/a.txt line 2 holds a value that is not a number"),
    ("1.5 0.5 0.5 0.5 0.5", r"line 2: class 1.5 is not declared"),
])
def test_a_malformed_label_line_is_an_error_naming_file_and_line(tmp_path, png, line, message):
    path = make_yolo(tmp_path, png, {"train/a": f"0 0.5 0.5 0.1 0.1\n{line}\n"})
    with pytest.raises(DataError, match=message):
        read_yolo(path, Collector())


def test_a_listed_image_missing_on_disk_follows_bad_files(tmp_path, png):
    png(tmp_path / "images" / "a.png")
    (tmp_path / "list.txt").write_text("images/a.png\nimages/gone.png\n")
    (tmp_path / "data.yaml").write_text("train: list.txt\nnames: [x]\n")
    data = read_yolo(tmp_path / "data.yaml", Collector("skip"))
    assert len(data.images) == 1 and data.skipped == [("images/gone.png", "missing on disk")]
    with pytest.raises(DataError, match=r"image images/gone.png named in data.yaml cannot be used"):
        read_yolo(tmp_path / "data.yaml", Collector("fail"))


def test_an_oversized_image_is_refused_from_its_header(tmp_path, png):
    path = make_yolo(tmp_path, png, {"train/a": "0 0.5 0.5 0.1 0.1\n"})
    png(tmp_path / "images" / "train" / "huge.png", (64, 64))
    data = read_yolo(path, Collector(max_pixels=32 * 32))
    assert [image.path.name for image in data.images] == ["a.png"]
    assert data.skipped == [("images/train/huge.png", "64x64 = 4,096 pixels exceeds max_pixels=1,024")]


@pytest.mark.parametrize("text, message", [
    ("train: images\n", r"data.yaml is not a YOLO data.yaml: expected the keys 'train', 'val' and 'names'"),
    ("train: nowhere\nnames: [a]\n", r"data.yaml: train: nowhere does not exist"),
    ("names: [a]\nval: images\n", r"names no train split"),
    ("train: images\nnames: {0: a, 2: b}\n", r"names: has keys that are not the ids 0..1"),
    ("train: images\nnames: [a, b]\nnc: 3\n", r"nc: does not match names:"),
    ("train: [images\nnames: [a]\n", r"data.yaml line \d is not valid YAML"),
])
def test_a_bad_data_yaml_says_what_was_expected(tmp_path, png, text, message):
    png(tmp_path / "images" / "a.png")
    (tmp_path / "data.yaml").write_text(text)
    with pytest.raises(DataError, match=message):
        read_yolo(tmp_path / "data.yaml", Collector())
