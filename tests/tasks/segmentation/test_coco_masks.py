"""COCO annotations rasterised: polygons, RLEs compressed or not, crowd regions ignored, later annotations over
earlier ones, images without annotations all background; and the refusals, naming file and annotation id."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from torchworks.errors import DataError
from torchworks.tasks.segmentation.coco_masks import CROWD, CocoMask, read_coco_masks
from torchworks.tasks.segmentation.reading import BadFiles


def uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO's uncompressed RLE: run lengths of 0s and 1s in column-major order, starting with 0s."""
    flat = mask.flatten(order="F").astype(np.int64)
    edges = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
    return {"size": list(mask.shape), "counts": ([0] if flat[0] else []) + runs}


def compressed_rle(mask: np.ndarray) -> dict:
    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}


def region(rows: slice, cols: slice) -> np.ndarray:
    mask = np.zeros((8, 8), dtype=bool)
    mask[rows, cols] = True
    return mask


def write(tmp_path, save_picture, annotations, categories=None, images=None, pictures=True):
    images = images or [{"id": 1, "file_name": "one.png", "width": 8, "height": 8},
                        {"id": 2, "file_name": "two.png", "width": 8, "height": 8}]
    if pictures:
        for entry in images:
            save_picture(tmp_path / "images" / entry["file_name"], np.zeros((8, 8, 3), np.uint8))
    categories = categories or [{"id": 3, "name": "dog"}, {"id": 1, "name": "cat"}]
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


def scene(tmp_path, save_picture):
    return write(tmp_path, save_picture, [
        {"id": 10, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 6, 1, 6, 6, 1, 6]], "iscrowd": 0},
        {"id": 11, "image_id": 1, "category_id": 3, "segmentation": uncompressed_rle(region(slice(3, 5), slice(0, 8)))},
        {"id": 12, "image_id": 1, "category_id": 3, "segmentation": compressed_rle(region(slice(6, 8), slice(6, 8))),
         "iscrowd": 1},
    ])


def test_polygons_rles_and_crowds_are_painted_in_order_over_background(tmp_path, save_picture):
    names, items = read_coco_masks(scene(tmp_path, save_picture), BadFiles("skip"))
    assert names == ["background", "cat", "dog"]  # categories in id order after background
    assert [(item.name, item.width, item.height, item.mask_name) for item in items] == [
        ("images/one.png", 8, 8, "annotations.json image id 1"),
        ("images/two.png", 8, 8, "annotations.json image id 2")]
    expected = np.zeros((8, 8), dtype=np.int64)
    expected[1:6, 1:6] = 1  # the polygon (pycocotools covers pixels 1..5 of a 1..6 square)
    expected[3:5, :] = 2  # the later RLE paints over it
    expected[6:8, 6:8] = CROWD
    assert items[0].mask.render().tolist() == expected.tolist()
    assert not items[1].mask.render().any()  # no annotations: all background


def test_categories_are_matched_to_given_classes_by_name(tmp_path, save_picture):
    names, items = read_coco_masks(scene(tmp_path, save_picture), BadFiles("skip"),
                                   classes=["background", "dog", "bird", "cat"])
    assert names == ["background", "dog", "bird", "cat"]
    rendered = items[0].mask.render()
    assert rendered[1, 1] == 3 and rendered[3, 0] == 1


def test_a_category_called_background_is_class_zero(tmp_path, save_picture):
    path = write(tmp_path, save_picture, [], categories=[{"id": 1, "name": "background"}, {"id": 2, "name": "cat"}])
    assert read_coco_masks(path, BadFiles("skip"))[0] == ["background", "cat"]


def test_a_category_that_is_no_class_is_a_data_error(tmp_path, save_picture):
    with pytest.raises(DataError) as error:
        read_coco_masks(scene(tmp_path, save_picture), BadFiles("skip"), classes=["background", "cat"])
    assert "annotations.json" in str(error.value) and "'dog'" in str(error.value)


@pytest.mark.parametrize("annotation, words", [
    ({"id": 7, "image_id": 1, "category_id": 9, "segmentation": [[0, 0, 4, 0, 4, 4]]}, ["annotation id 7",
                                                                                          "category_id 9"]),
    ({"id": 7, "image_id": 5, "category_id": 1, "segmentation": [[0, 0, 4, 0, 4, 4]]}, ["annotation id 7",
                                                                                          "no image"]),
    ({"id": 7, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 4, 0]]}, ["annotation id 7",
                                                                                    "no usable segmentation"]),
    ({"id": 7, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 4, 0, 4, "x"]]}, ["annotation id 7"]),
    ({"id": 7, "image_id": 1, "category_id": 1, "segmentation": {"size": [4, 4], "counts": [0, 16]}},
     ["annotation id 7", "RLE is not the size", "[8, 8]", "[4, 4]"]),
])
def test_bad_annotations_raise_a_data_error_naming_the_file_and_annotation(tmp_path, save_picture, annotation, words):
    path = write(tmp_path, save_picture, [annotation])
    with pytest.raises(DataError) as error:
        read_coco_masks(path, BadFiles("skip"))
    assert "annotations.json" in str(error.value)
    for word in words:
        assert word in str(error.value)


def test_boxes_without_any_segmentation_are_refused(tmp_path, save_picture):
    path = write(tmp_path, save_picture, [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]}])
    with pytest.raises(DataError, match="has no segmentations"):
        read_coco_masks(path, BadFiles("skip"))


def test_a_missing_image_follows_bad_files(tmp_path, save_picture):
    path = write(tmp_path, save_picture, [], pictures=False)
    save_picture(tmp_path / "one.png", np.zeros((8, 8, 3), np.uint8))  # beside the JSON is found too
    bad = BadFiles("skip")
    _, items = read_coco_masks(path, bad)
    assert [item.name for item in items] == ["one.png"] and bad.skipped == [("two.png", "image missing on disk")]
    with pytest.raises(DataError, match="two.png"):
        read_coco_masks(path, BadFiles("fail"))


def test_an_image_of_another_size_than_the_json_says_is_a_data_error(tmp_path, save_picture):
    path = write(tmp_path, save_picture, [], images=[{"id": 1, "file_name": "one.png", "width": 9, "height": 8}],
                 pictures=False)
    save_picture(tmp_path / "images" / "one.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(DataError) as error:
        read_coco_masks(path, BadFiles("skip"))
    assert "one.png" in str(error.value) and "9x8" in str(error.value) and "8x8" in str(error.value)


def test_not_json_or_not_coco_is_a_data_error(tmp_path):
    (tmp_path / "a.json").write_text("{\n  'images': []\n}")
    with pytest.raises(DataError, match="line 2"):
        read_coco_masks(tmp_path / "a.json", BadFiles("skip"))
    (tmp_path / "b.json").write_text(json.dumps({"boxes": []}))
    with pytest.raises(DataError, match="not a COCO file"):
        read_coco_masks(tmp_path / "b.json", BadFiles("skip"))


def test_a_coco_mask_survives_pickling_for_data_loader_workers():
    import pickle

    mask = CocoMask(4, 4, ((1, [[0, 0, 3, 0, 3, 3, 0, 3]]),), "a.json image id 1")
    assert pickle.loads(pickle.dumps(mask)).render().tolist() == mask.render().tolist()
