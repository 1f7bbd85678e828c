import json

import numpy as np
import pytest

from torchworks.errors import DataError
from torchworks.tasks.object_detection.annotations import Collector
from torchworks.tasks.object_detection.coco import read_coco_file, read_coco_folder

CATS = [{"id": 7, "name": "truck"}, {"id": 3, "name": "car"}]


def test_a_coco_file_gives_xyxy_boxes_contiguous_labels_in_id_order_and_keeps_negatives(tmp_path, png, coco):
    png(tmp_path / "a.png")
    png(tmp_path / "images" / "b.png")
    path = coco(tmp_path / "ann.json",
                [{"id": 1, "file_name": "a.png", "width": 32, "height": 32}, {"id": 2, "file_name": "b.png"}],
                [{"id": 10, "image_id": 1, "category_id": 7, "bbox": [2, 3, 10, 5]},
                 {"id": 11, "image_id": 1, "category_id": 3, "bbox": [0, 0, 4, 4], "iscrowd": 1}], CATS)
    data = read_coco_file(path, Collector())
    assert data.classes == ["car", "truck"] and not data.presplit and data.format == "COCO"
    first, second = data.splits["all"]
    np.testing.assert_allclose(first.boxes, [[2, 3, 12, 8], [0, 0, 4, 4]])
    assert first.labels.tolist() == [1, 0] and first.iscrowd.tolist() == [False, True]
    assert (second.width, second.height, len(second)) == (32, 32, 0)  # size from the header; a negative
    assert second.path == tmp_path / "images" / "b.png"


def test_boxes_outside_are_clipped_and_counted_and_empty_ones_dropped_by_annotation_id(tmp_path, png, coco):
    png(tmp_path / "a.png")
    path = coco(tmp_path / "ann.json", [{"id": 1, "file_name": "a.png"}],
                [{"id": 5, "image_id": 1, "category_id": 3, "bbox": [-4, 20, 10, 20]},
                 {"id": 6, "image_id": 1, "category_id": 3, "bbox": [5, 5, 0, 8]},
                 {"id": 9, "image_id": 1, "category_id": 3, "bbox": [40, 5, 3, 3]}], CATS)
    data = read_coco_file(path, Collector())
    np.testing.assert_allclose(data.images[0].boxes, [[0, 20, 6, 32]])
    assert data.clipped == 1
    assert len(data.dropped) == 2
    assert data.dropped[0].startswith("ann.json annotation id 6: box 5,5,5,13 zero or negative width")
    assert data.dropped[1].startswith("ann.json annotation id 9") and "outside the image" in data.dropped[1]


def test_a_missing_image_is_skipped_or_named_by_bad_files(tmp_path, png, coco):
    png(tmp_path / "a.png")
    path = coco(tmp_path / "ann.json", [{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "gone.png"}],
                [{"id": 1, "image_id": 2, "category_id": 3, "bbox": [1, 1, 5, 5]}], CATS)
    data = read_coco_file(path, Collector("skip"))
    assert len(data.images) == 1 and data.skipped == [("gone.png", "missing on disk")]
    with pytest.raises(DataError, match=r"image gone.png named in ann.json cannot be used.*missing on disk"):
        read_coco_file(path, Collector("fail"))


def test_an_image_over_max_pixels_is_refused_from_the_declared_size(tmp_path, png, coco):
    png(tmp_path / "a.png")
    png(tmp_path / "big.png")
    path = coco(tmp_path / "ann.json", [{"id": 1, "file_name": "a.png"},
                                        {"id": 2, "file_name": "big.png", "width": 5000, "height": 5000}], [], CATS)
    data = read_coco_file(path, Collector("skip", max_pixels=10_000))
    assert [image.path.name for image in data.images] == ["a.png"]
    assert data.skipped[0][0] == "big.png" and "exceeds max_pixels=10,000" in data.skipped[0][1]


@pytest.mark.parametrize("content, message", [
    ({"foo": 1}, (r"x.json is not a COCO detection file: expected a JSON object with the keys 'images', "
                 r"'annotations' and 'categories'.*got keys \['foo'\]")),
    ([1, 2], r"not a COCO detection file.*got a JSON list"),
])
def test_a_json_that_is_not_coco_says_which_keys_were_expected(tmp_path, content, message):
    (tmp_path / "x.json").write_text(json.dumps(content))
    with pytest.raises(DataError, match=message):
        read_coco_file(tmp_path / "x.json", Collector())


def test_invalid_json_names_the_line(tmp_path):
    (tmp_path / "x.json").write_text('{"images": [],\n "annotations": [,]}')
    with pytest.raises(DataError, match=r"x.json line 2 is not valid JSON"):
        read_coco_file(tmp_path / "x.json", Collector())


def test_an_undeclared_category_and_a_bad_bbox_name_the_annotation_id(tmp_path, png, coco):
    png(tmp_path / "a.png")
    path = coco(tmp_path / "ann.json", [{"id": 1, "file_name": "a.png"}],
                [{"id": 42, "image_id": 1, "category_id": 99, "bbox": [1, 1, 5, 5]}], CATS)
    with pytest.raises(DataError, match=r"ann.json annotation id 42: category_id 99 is not declared.*\[3, 7\]"):
        read_coco_file(path, Collector())
    path = coco(tmp_path / "ann.json", [{"id": 1, "file_name": "a.png"}],
                [{"id": 43, "image_id": 1, "category_id": 3, "bbox": [1, 1, 5]}], CATS)
    with pytest.raises(DataError, match=r"ann.json annotation id 43: bbox is not four numbers"):
        read_coco_file(path, Collector())


def test_a_coco_folder_is_read_pre_split_from_split_and_split2017_folders(tmp_path, png, coco):
    png(tmp_path / "train2017" / "t.png")
    png(tmp_path / "val" / "v.png")
    coco(tmp_path / "annotations" / "instances_train2017.json", [{"id": 1, "file_name": "t.png"}],
         [{"id": 1, "image_id": 1, "category_id": 7, "bbox": [1, 2, 3, 4]}], CATS)
    coco(tmp_path / "annotations" / "instances_val.json", [{"id": 1, "file_name": "v.png"}], [], CATS)
    data = read_coco_folder(tmp_path, Collector())
    assert data.presplit and sorted(data.splits) == ["train", "val"]
    assert data.splits["train"][0].labels.tolist() == [1]
    np.testing.assert_allclose(data.splits["train"][0].boxes, [[1, 2, 4, 6]])
    assert data.splits["val"][0].path == tmp_path / "val" / "v.png"


def test_splits_with_other_categories_are_refused(tmp_path, png, coco):
    png(tmp_path / "train" / "t.png")
    coco(tmp_path / "annotations" / "instances_train.json", [{"id": 1, "file_name": "t.png"}], [], CATS)
    coco(tmp_path / "annotations" / "instances_val.json", [], [], [{"id": 1, "name": "dog"}])
    with pytest.raises(DataError, match=r"instances_val.json declares other categories than"):
        read_coco_folder(tmp_path, Collector())


def test_classes_given_reorder_the_labels_by_name(tmp_path, png, coco):
    png(tmp_path / "a.png")
    path = coco(tmp_path / "ann.json", [{"id": 1, "file_name": "a.png"}],
                [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [1, 1, 5, 5]}], CATS)
    data = read_coco_file(path, Collector(), classes=["truck", "bus", "car"])
    assert data.classes == ["truck", "bus", "car"] and data.images[0].labels.tolist() == [2]
    with pytest.raises(DataError, match=r"declares classes that are not in classes=.*'car'"):
        read_coco_file(path, Collector(), classes=["truck"])
