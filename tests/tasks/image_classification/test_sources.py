"""D2: finding labelled images in folders and CSVs; every bad layout names the folder, file or row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from torchworks.errors import DataError
from torchworks.tasks.image_classification.sources import LabelledFile, find_labelled_files

PIXELS = np.full((8, 8), 128, dtype=np.uint8)


def _labels(files: list[LabelledFile]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in files:
        counts[f.label] = counts.get(f.label, 0) + 1
    return counts


def test_class_folders_give_one_label_per_folder(shapes_dir):
    files, source = find_labelled_files(str(shapes_dir))
    assert source == shapes_dir
    assert _labels(files) == {"circle": 12, "square": 12, "stripes": 12}
    assert all(f.split is None and f.path.is_file() and f.origin == str(f.path) for f in files)


def test_missing_path_is_named(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(DataError) as info:
        find_labelled_files(str(missing))
    assert str(missing) in info.value.what and "does not exist" in info.value.what


def test_a_file_that_is_not_a_csv_is_refused(tmp_path, write_image):
    image = write_image(tmp_path / "one.png", PIXELS)
    with pytest.raises(DataError, match="not a CSV"):
        find_labelled_files(str(image))


def test_empty_folder_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as info:
        find_labelled_files(str(tmp_path / "empty"))
    assert "has no class folders" in info.value.what and info.value.got == "an empty folder"


def test_loose_images_without_class_folders_are_counted(tmp_path, write_image):
    for i in range(3):
        write_image(tmp_path / "flat" / f"{i}.png", PIXELS)
    with pytest.raises(DataError) as info:
        find_labelled_files(str(tmp_path / "flat"))
    assert info.value.got == "3 loose images and no sub-folders"
    assert "<class>" in info.value.hint


def test_class_folder_without_images_is_named(tmp_path, write_image):
    write_image(tmp_path / "data" / "cat" / "1.png", PIXELS)
    (tmp_path / "data" / "dog").mkdir()
    (tmp_path / "data" / "dog" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError) as info:
        find_labelled_files(str(tmp_path / "data"))
    assert str(tmp_path / "data" / "dog") in info.value.what


def test_hidden_files_and_folders_are_ignored_and_nested_images_found(tmp_path, write_image):
    root = tmp_path / "data"
    write_image(root / "cat" / "1.png", PIXELS)
    write_image(root / "cat" / "deeper" / "2.png", PIXELS)
    write_image(root / "cat" / ".thumbs" / "3.png", PIXELS)
    write_image(root / "cat" / "._4.png", PIXELS)
    write_image(root / "dog" / "1.png", PIXELS)
    write_image(root / ".cache" / "x.png", PIXELS)
    write_image(root / "__MACOSX" / "x.png", PIXELS)
    files, _ = find_labelled_files(str(root))
    assert _labels(files) == {"cat": 2, "dog": 1}


@pytest.mark.parametrize("name", ["A.PNG", "b.JPG", "c.Jpeg", "d.TIFF", "e.bmp", "f.WebP"])
def test_upper_case_extensions_are_images(tmp_path, write_image, name):
    write_image(tmp_path / "data" / "cat" / name, np.full((8, 8, 3), 100, dtype=np.uint8))
    write_image(tmp_path / "data" / "dog" / "x.png", PIXELS)
    files, _ = find_labelled_files(str(tmp_path / "data"))
    assert sorted(f.path.name for f in files) == sorted([name, "x.png"])


def test_pre_split_folders_keep_their_split(tmp_path, write_image):
    root = tmp_path / "data"
    for split in ("Train", "valid", "test"):
        for label in ("cat", "dog"):
            write_image(root / split / label / "1.png", PIXELS)
    files, _ = find_labelled_files(str(root))
    assert sorted({f.split for f in files}) == ["test", "train", "val"]
    assert _labels(files) == {"cat": 3, "dog": 3}


def test_class_folders_named_like_splits_without_train_are_classes(tmp_path, write_image):
    write_image(tmp_path / "data" / "val" / "1.png", PIXELS)
    write_image(tmp_path / "data" / "test" / "1.png", PIXELS)
    files, _ = find_labelled_files(str(tmp_path / "data"))
    assert _labels(files) == {"test": 1, "val": 1}
    assert {f.split for f in files} == {None}


# --- CSV ------------------------------------------------------------------------------------


def _csv(path: Path, text: str, bom: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


@pytest.fixture
def two_images(tmp_path, write_image) -> Path:
    write_image(tmp_path / "img" / "a.png", PIXELS)
    write_image(tmp_path / "img" / "b.png", PIXELS)
    return tmp_path


def test_csv_rows_are_read_with_paths_relative_to_the_csv(two_images):
    csv = _csv(two_images / "labels.csv", "path,label\nimg/a.png,cat\nimg/b.png,dog\n")
    files, source = find_labelled_files(str(csv))
    assert source == csv
    assert [(f.path, f.label, f.split) for f in files] == [
        (two_images / "img" / "a.png", "cat", None),
        (two_images / "img" / "b.png", "dog", None),
    ]
    assert files[1].origin == f"{csv} row 3"


def test_csv_absolute_paths_and_split_column(two_images):
    a = two_images / "img" / "a.png"
    csv = _csv(two_images / "sub" / "labels.csv", f"path,label,split\n{a},cat,Validation\nimg/b.png,dog,\n")
    files, _ = find_labelled_files(str(csv))
    assert files[0].path == a and files[0].split == "val"
    assert files[1].path == two_images / "sub" / "img" / "b.png" and files[1].split is None


def test_csv_with_a_utf8_bom_header_works(two_images):
    csv = _csv(two_images / "labels.csv", "path,label\nimg/a.png,cat\nimg/b.png,dog\n", bom=True)
    files, _ = find_labelled_files(str(csv))
    assert [f.label for f in files] == ["cat", "dog"]


def test_csv_header_case_and_spaces_are_forgiven(two_images):
    csv = _csv(two_images / "labels.csv", " Path , LABEL \nimg/a.png, cat \n")
    files, _ = find_labelled_files(str(csv))
    assert files[0].label == "cat"


def test_csv_without_a_label_column_names_its_columns(two_images):
    csv = _csv(two_images / "labels.csv", "path,class\nimg/a.png,cat\n")
    with pytest.raises(DataError) as info:
        find_labelled_files(str(csv))
    assert str(csv) in info.value.what and "label" in info.value.what
    assert info.value.got == "columns path, class"


def test_empty_csv_is_refused(two_images):
    csv = _csv(two_images / "labels.csv", "")
    with pytest.raises(DataError) as info:
        find_labelled_files(str(csv))
    assert str(csv) in info.value.what


def test_header_only_csv_is_refused(two_images):
    csv = _csv(two_images / "labels.csv", "path,label\n")
    with pytest.raises(DataError, match="has no rows"):
        find_labelled_files(str(csv))


@pytest.mark.parametrize("row", ["img/b.png,", "img/b.png,   ", ",dog"])
def test_csv_row_with_an_empty_value_names_the_row(two_images, row):
    csv = _csv(two_images / "labels.csv", f"path,label\nimg/a.png,cat\n{row}\n")
    with pytest.raises(DataError) as info:
        find_labelled_files(str(csv))
    assert f"{csv} row 3" in info.value.what


def test_csv_unknown_split_names_the_row(two_images):
    csv = _csv(two_images / "labels.csv", "path,label,split\nimg/a.png,cat,train\nimg/b.png,dog,holdout\n")
    with pytest.raises(DataError) as info:
        find_labelled_files(str(csv))
    assert f"{csv} row 3" in info.value.what and "'holdout'" in info.value.got


def test_csv_that_is_not_utf8_is_refused(two_images):
    csv = two_images / "labels.csv"
    csv.write_bytes("path,label\nimg/a.png,ch\u00e2t\n".encode("utf-16"))
    with pytest.raises(DataError):
        find_labelled_files(str(csv))
