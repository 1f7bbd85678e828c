import numpy as np
import pytest

from torchworks.errors import DataError
from torchworks.tasks.object_detection.annotations import Collector
from torchworks.tasks.object_detection.voc import read_voc


def voc_xml(filename: str, objects: list[tuple], size=(32, 32)) -> str:
    size_xml = f"  <size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>\n" if size else ""
    body = "".join(
        f"  <object>\n    <name>{name}</name>\n    <difficult>{int(difficult)}</difficult>\n"
        f"    <bndbox><xmin>{box[0]}</xmin><ymin>{box[1]}</ymin><xmax>{box[2]}</xmax><ymax>{box[3]}</ymax></bndbox>\n"
        f"  </object>\n" for name, box, difficult in objects)
    return f"<annotation>\n  <filename>{filename}</filename>\n{size_xml}{body}</annotation>\n"


def make_voc(root, png, items: dict[str, list[tuple]], splits: dict[str, list[str]] | None = None, size=(32, 32)):
    (root / "Annotations").mkdir(parents=True)
    for image_id, objects in items.items():
        png(root / "JPEGImages" / f"{image_id}.png")
        (root / "Annotations" / f"{image_id}.xml").write_text(voc_xml(f"{image_id}.png", objects, size))
    for split, ids in (splits or {}).items():
        (root / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
    return root


def test_voc_boxes_become_zero_based_xyxy_with_sorted_names_and_difficult_as_ignore(tmp_path, png):
    root = make_voc(tmp_path, png, {"a": [("person", (5, 6, 20, 30), False), ("car", (1, 1, 10, 10), True)],
                                    "b": []}, {"train": ["a"], "val": ["b"]})
    data = read_voc(root, Collector())
    assert data.classes == ["car", "person"] and sorted(data.splits) == ["train", "val"]
    image = data.splits["train"][0]
    np.testing.assert_allclose(image.boxes, [[4, 5, 20, 30], [0, 0, 10, 10]])
    assert image.labels.tolist() == [1, 0] and image.iscrowd.tolist() == [False, True]
    assert image.source == "Annotations/a.xml"
    assert len(data.splits["val"][0]) == 0  # kept as a negative


def test_trainval_stands_in_for_train_and_no_imagesets_means_unsplit(tmp_path, png):
    root = make_voc(tmp_path / "one", png, {"a": [("dog", (1, 1, 5, 5), False)], "b": []},
                    {"trainval": ["a"], "test": ["b"]})
    assert sorted(read_voc(root, Collector()).splits) == ["test", "train"]
    root = make_voc(tmp_path / "two", png, {"a": [], "b": []})
    data = read_voc(root, Collector())
    assert not data.presplit and len(data.images) == 2


def test_size_missing_from_the_xml_is_read_from_the_header_and_boxes_clipped(tmp_path, png):
    root = make_voc(tmp_path, png, {"a": [("dog", (20, 20, 40, 40), False), ("dog", (5, 5, 4, 9), False)]},
                    size=None)
    data = read_voc(root, Collector())
    np.testing.assert_allclose(data.images[0].boxes, [[19, 19, 32, 32]])
    assert data.clipped == 1
    assert data.dropped == ["Annotations/a.xml line 8: box 4,4,4,9 zero or negative width or height"]


def test_a_name_outside_classes_given_is_an_error_naming_file_and_line(tmp_path, png):
    root = make_voc(tmp_path, png, {"a": [("dog", (1, 1, 5, 5), False), ("cat", (1, 1, 5, 5), False)]})
    data = read_voc(root, Collector(), classes=["cat", "dog"])
    assert data.images[0].labels.tolist() == [1, 0]
    with pytest.raises(DataError, match=r"Annotations/a.xml line 9: class 'cat' is not declared"):
        read_voc(root, Collector(), classes=["dog"])


def test_malformed_xml_and_bad_numbers_name_the_file_and_line(tmp_path, png):
    root = make_voc(tmp_path, png, {"a": []})
    (root / "Annotations" / "a.xml").write_text("<annotation>\n<filename>a.png</filename>\n<object>\n</annotation>")
    with pytest.raises(DataError, match=r"Annotations/a.xml line 4 is not valid XML"):
        read_voc(root, Collector())
    (root / "Annotations" / "a.xml").write_text(voc_xml("a.png", [("dog", ("x", 1, 5, 5), False)]))
    with pytest.raises(DataError, match=r"Annotations/a.xml line 4: <bndbox> is not four numbers.*xmin='x'"):
        read_voc(root, Collector())


def test_a_missing_image_follows_bad_files(tmp_path, png):
    root = make_voc(tmp_path, png, {"a": [], "b": []})
    (root / "JPEGImages" / "b.png").unlink()
    data = read_voc(root, Collector("skip"))
    assert len(data.images) == 1 and data.skipped == [("JPEGImages/b.png", "missing on disk")]
    with pytest.raises(DataError, match=r"image JPEGImages/b.png named in Annotations/b.xml cannot be used"):
        read_voc(root, Collector("fail"))
