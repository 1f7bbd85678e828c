"""Reading segmentation data on disk: layouts, pairing by stem, CSV pairs, masks of every kind decoded to
their stored values, the one pass over the masks, and bad_files."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from torchworks.errors import DataError
from torchworks.tasks.segmentation.reading import (
    BadFiles,
    class_file_in,
    detect_layout,
    load_mask,
    read_csv_pairs,
    read_folders,
    scan_masks,
    value_counts,
)


def huge_png_header(path, width=9000, height=9000):
    """A PNG whose header claims 81 million pixels and that holds no pixel data: only a reader that
    decodes would notice the missing data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


def test_the_layout_is_told_by_what_the_path_holds(tmp_path, make_seg_folder):
    folder = make_seg_folder(tmp_path / "data", count=1)
    assert detect_layout(folder) == ("folders", folder)
    (tmp_path / "pairs.csv").write_text("image,mask\n")
    assert detect_layout(tmp_path / "pairs.csv") == ("csv", tmp_path / "pairs.csv")
    (tmp_path / "coco" / "instances.json").parent.mkdir()
    (tmp_path / "coco" / "instances.json").write_text("{}")
    assert detect_layout(tmp_path / "coco") == ("coco", tmp_path / "coco" / "instances.json")


def test_an_unknown_layout_says_what_was_expected_and_what_the_folder_holds(tmp_path):
    (tmp_path / "pictures").mkdir()
    with pytest.raises(DataError) as error:
        detect_layout(tmp_path)
    message = str(error.value)
    assert "images/ and masks/" in message and "CSV" in message and "COCO" in message and "pictures/" in message
    with pytest.raises(DataError, match="does not exist"):
        detect_layout(tmp_path / "nothing")


def test_images_and_masks_pair_by_stem_whatever_the_suffix(tmp_path, save_picture):
    root = tmp_path / "data"
    save_picture(root / "images" / "a.jpg", np.zeros((8, 12, 3), np.uint8))
    save_picture(root / "masks" / "a.png", np.zeros((8, 12), np.uint8))
    save_picture(root / "images" / "sub" / "b.png", np.zeros((8, 8, 3), np.uint8))
    save_picture(root / "masks" / "sub" / "b.png", np.zeros((8, 8), np.uint8))
    save_picture(root / "masks" / "orphan.png", np.zeros((8, 8), np.uint8))
    (root / "classes.yaml").write_text("- background\n- thing\n")
    items, unpaired = read_folders(root, BadFiles("skip"))
    assert [(i.name, i.mask.name, i.width, i.height, i.split) for i in items] == [
        ("a.jpg", "a.png", 12, 8, None), ("sub/b.png", "b.png", 8, 8, None)]
    assert items[0].mask_name == "masks/a.png" and unpaired == ["masks/orphan.png"]
    assert class_file_in(root) == root / "classes.yaml"


def test_a_pre_split_folder_keeps_its_splits(tmp_path, make_seg_folder):
    root = tmp_path / "data"
    for split, count in (("train", 3), ("val", 2), ("test", 1)):
        make_seg_folder(root, count=count, split=split)
    items, _ = read_folders(root, BadFiles("skip"))
    assert [item.split for item in items].count("train") == 3
    assert [(item.name, item.split) for item in items if item.split != "train"] == [
        ("val/00.png", "val"), ("val/01.png", "val"), ("test/00.png", "test")]


def test_an_image_without_its_mask_is_skipped_and_named_or_fails(tmp_path, make_seg_folder):
    root = make_seg_folder(tmp_path / "data", count=2)
    (root / "masks" / "01.png").unlink()
    bad = BadFiles("skip")
    items, _ = read_folders(root, bad)
    assert [item.name for item in items] == ["00.png"]
    assert bad.skipped == [("01.png", "no mask masks/01.png")]
    with pytest.raises(DataError) as error:
        read_folders(root, BadFiles("fail"))
    assert "01.png" in str(error.value) and "bad_files=skip" in str(error.value)


def test_an_unreadable_image_follows_bad_files(tmp_path, make_seg_folder):
    root = make_seg_folder(tmp_path / "data", count=2)
    (root / "images" / "01.png").write_bytes(b"not a picture")
    bad = BadFiles("skip")
    read_folders(root, bad)
    assert bad.skipped[0][0] == "01.png" and "not a readable image" in bad.skipped[0][1]
    with pytest.raises(DataError, match="01.png"):
        read_folders(root, BadFiles("fail"))


def test_an_image_over_max_pixels_is_refused_from_its_header_without_decoding(tmp_path, make_seg_folder, save_picture):
    root = make_seg_folder(tmp_path / "data", count=1)
    huge_png_header(root / "images" / "big.png")
    save_picture(root / "masks" / "big.png", np.zeros((4, 4), np.uint8))
    bad = BadFiles("skip")
    items, _ = read_folders(root, bad)
    assert [item.name for item in items] == ["00.png"]
    assert bad.skipped == [("big.png", "9000x9000 = 81,000,000 pixels exceeds max_pixels=60,000,000")]


def test_no_images_at_all_is_a_data_error(tmp_path):
    (tmp_path / "data" / "images").mkdir(parents=True)
    (tmp_path / "data" / "masks").mkdir()
    with pytest.raises(DataError, match="no images in"):
        read_folders(tmp_path / "data", BadFiles("skip"))


def test_a_csv_names_pairs_relative_to_its_folder_and_its_split_column_is_kept(tmp_path, make_seg_folder):
    make_seg_folder(tmp_path, count=3)
    csv_file = tmp_path / "pairs.csv"
    csv_file.write_text("\ufeffimage,mask,split\nimages/00.png,masks/00.png,train\n"
                        "images/01.png,masks/01.png,Valid\nimages/02.png,masks/02.png,\n")
    items = read_csv_pairs(csv_file, BadFiles("skip"))
    assert [(i.name, i.mask_name, i.split) for i in items] == [
        ("images/00.png", "masks/00.png", "train"), ("images/01.png", "masks/01.png", "val"),
        ("images/02.png", "masks/02.png", None)]
    assert items[0].image == tmp_path / "images" / "00.png"


@pytest.mark.parametrize("text, words", [
    ("picture,mask\na.png,a.png\n", ["lacks the column image", "columns picture, mask"]),
    ("image,mask\n", ["has no rows"]),
    ("image,mask,split\na.png,a.png,holdout\n", ["pairs.csv row 2", "unknown split", "holdout"]),
    ("image,mask\na.png,\n", ["pairs.csv row 2", "empty mask cell"]),
])
def test_bad_csv_files_raise_a_data_error_naming_the_file_and_row(tmp_path, text, words):
    (tmp_path / "pairs.csv").write_text(text)
    with pytest.raises(DataError) as error:
        read_csv_pairs(tmp_path / "pairs.csv", BadFiles("skip"))
    for word in words:
        assert word in str(error.value)


def test_a_csv_row_whose_mask_is_missing_follows_bad_files(tmp_path, make_seg_folder):
    make_seg_folder(tmp_path, count=1)
    (tmp_path / "pairs.csv").write_text("image,mask\nimages/00.png,masks/00.png\nimages/00.png,masks/gone.png\n")
    bad = BadFiles("skip")
    assert len(read_csv_pairs(tmp_path / "pairs.csv", bad)) == 1
    assert bad.skipped == [("images/00.png", "mask masks/gone.png missing on disk (pairs.csv row 3)")]


def test_masks_of_every_kind_decode_to_their_stored_values(tmp_path, save_picture):
    values = np.array([[0, 1], [2, 255]], dtype=np.uint8)
    grey = load_mask(save_picture(tmp_path / "l.png", values), "l.png")
    assert grey.values.tolist() == values.tolist() and not grey.colour and grey.mode == "L"
    deep = load_mask(save_picture(tmp_path / "i16.png", np.array([[0, 300]], np.uint16)), "i16.png")
    assert deep.values.tolist() == [[0, 300]] and deep.mode.startswith("I")
    palette = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [224, 224, 192] * 253
    indexed = load_mask(save_picture(tmp_path / "p.png", values, "P", palette), "p.png")
    assert indexed.values.tolist() == values.tolist() and indexed.palette[1] == (128, 0, 0)
    binary = load_mask(save_picture(tmp_path / "b.png", np.array([[0, 1]], bool)), "b.png")
    assert binary.values.tolist() == [[0, 255]]
    rgb = np.array([[[10, 20, 30], [0, 0, 0]]], np.uint8)
    colour = load_mask(save_picture(tmp_path / "c.png", rgb), "c.png")
    assert colour.colour and colour.values.tolist() == [[(10 << 16) | (20 << 8) | 30, 0]]


def test_an_rgb_mask_of_grey_pixels_is_read_as_values_unless_colours_are_declared(tmp_path, save_picture):
    path = save_picture(tmp_path / "g.png", np.stack([np.array([[0, 255]], np.uint8)] * 3, axis=-1))
    assert load_mask(path, "g.png").values.tolist() == [[0, 255]]
    assert load_mask(path, "g.png", grey_rgb=False).colour


def test_unreadable_and_floating_point_masks_are_data_errors_naming_them(tmp_path, save_picture):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(DataError, match="bad.png"):
        load_mask(tmp_path / "bad.png", "masks/bad.png")
    path = save_picture(tmp_path / "f.tif", np.zeros((2, 2), np.float32), "F")
    with pytest.raises(DataError, match="floating point"):
        load_mask(path, "f.tif")
    with pytest.raises(DataError, match="too large"):
        load_mask(save_picture(tmp_path / "m.png", np.zeros((10, 10), np.uint8)), "m.png", max_pixels=64)


def test_value_counts_counts_pixels_per_value():
    values, counts = value_counts(np.array([[0, 0, 5], [5, 5, 255]], np.uint8))
    assert values.tolist() == [0, 5, 255] and counts.tolist() == [2, 3, 1]
    values, counts = value_counts(np.array([[70000, 3]], np.int64))
    assert values.tolist() == [3, 70000] and counts.tolist() == [1, 1]


def test_the_scan_reads_every_mask_once_and_checks_its_size(tmp_path, make_seg_folder, save_picture):
    root = make_seg_folder(tmp_path / "data", count=3)
    items, _ = read_folders(root, BadFiles("skip"))
    scan = scan_masks(items, BadFiles("skip"))
    assert len(scan.masks) == 3 and scan.masks[0].values.tolist() == [0, 1, 2] and sum(scan.masks[0].counts) == 256
    save_picture(root / "masks" / "01.png", np.zeros((16, 12), np.uint8))
    with pytest.raises(DataError) as error:
        scan_masks(items, BadFiles("skip"))
    message = str(error.value)
    assert "masks/01.png" in message and "01.png" in message and "16x16" in message and "12x16" in message


def test_an_unreadable_mask_is_skipped_with_its_image_or_fails(tmp_path, make_seg_folder):
    root = make_seg_folder(tmp_path / "data", count=2)
    items, _ = read_folders(root, BadFiles("skip"))
    (root / "masks" / "01.png").write_bytes(b"garbage")
    bad = BadFiles("skip")
    assert [item.name for item in scan_masks(items, bad).items] == ["00.png"]
    assert bad.skipped[0][0] == "01.png" and "masks/01.png" in bad.skipped[0][1]
    with pytest.raises(DataError, match="masks/01.png"):
        scan_masks(items, BadFiles("fail"))


def test_colour_masks_mixed_with_value_masks_are_refused(tmp_path, make_seg_folder, save_picture):
    root = make_seg_folder(tmp_path / "data", count=2)
    save_picture(root / "masks" / "01.png", np.full((16, 16, 3), (200, 10, 10), np.uint8))
    items, _ = read_folders(root, BadFiles("skip"))
    with pytest.raises(DataError) as error:
        scan_masks(items, BadFiles("skip"))
    assert "masks/00.png" in str(error.value) and "masks/01.png" in str(error.value)
