"""Predicting on images: files, folders, CSVs of paths, arrays; a bad image is an error row, not the end."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import torchworks
from torchworks.bad_inputs import collecting_bad_inputs
from torchworks.errors import DataError
from torchworks.tasks.image_classification.decoding import IMAGE_SUFFIXES
from torchworks.tasks.image_classification.predicting import image_inputs
from torchworks.tasks.image_classification.task import ImageClassification


def _mixed(run: Path, folder: Path, good: int = 10) -> tuple[Path, list[Path]]:
    """``good`` readable PNGs of the run's data and one truncated one, sorted among them."""
    shapes = run.parent.parent.parent / "shapes"
    sources = sorted(shapes.rglob("*.png"))[:good]
    folder.mkdir()
    for number, source in enumerate(sources):
        shutil.copy(source, folder / f"{number:02d}.png")
    whole = (folder / "03.png").read_bytes()
    (folder / "03b_broken.png").write_bytes(whole[: len(whole) // 2])
    return folder, sorted(folder.iterdir())


def test_the_declared_input_kinds_are_what_decoding_reads():
    kinds = ImageClassification.input_kinds
    assert set(kinds.folder_files) == IMAGE_SUFFIXES and set(kinds.files) == IMAGE_SUFFIXES | {".csv"}


def test_a_truncated_png_among_good_ones_is_one_error_row_in_its_place(image_run, tmp_path):
    folder, files = _mixed(image_run, tmp_path / "mixed")
    predictor = torchworks.load(image_run)
    records = predictor.predict(folder)
    assert [r["input"] for r in records] == [str(f) for f in files], "input order kept"
    broken = records[4]
    assert broken["input"].endswith("03b_broken.png") and set(broken) == {"input", "error"}
    assert broken["error"].startswith("cannot read image") and "truncated" in broken["error"]
    assert all(r["label"] in predictor.labels for r in records if "error" not in r) and len(records) == 11
    result = predictor.predict_all(folder)
    assert result.inputs == 11 and len(result.bad) == 1
    assert result.summary().startswith(f"1 of 11 inputs could not be read (first: {files[4]}: image file is truncated")
    with pytest.raises(DataError, match="03b_broken.png"):
        predictor.predict(folder, bad_files="fail")


def test_arrays_and_pil_images_predict_like_the_file(image_run):
    predictor = torchworks.load(image_run)
    path = sorted((image_run.parent.parent.parent / "shapes").rglob("*.png"))[0]
    pixels = np.asarray(Image.open(path).convert("RGB"))
    from_file, from_array, from_floats = predictor.predict([path, pixels, pixels / 255.0])
    assert from_array["input"] == f"<array {pixels.shape[0]}x{pixels.shape[1]}x3>"
    for record in (from_array, from_floats):
        assert record["label"] == from_file["label"]
        assert record["probability"] == pytest.approx(from_file["probability"], abs=1e-4)


def test_a_csv_of_paths_still_works_and_a_csv_of_texts_is_refused(image_run, tmp_path):
    shapes = image_run.parent.parent.parent / "shapes"
    paths = sorted(shapes.rglob("*.png"))[:2]
    listing = tmp_path / "list.csv"
    listing.write_text("path\n" + "\n".join(str(p) for p in paths) + "\n")
    records = torchworks.load(image_run).predict(listing)
    assert [r["input"] for r in records] == [str(p) for p in paths] and all("label" in r for r in records)
    texts = tmp_path / "texts.csv"
    texts.write_text("text,label\nmy card was charged twice,billing\n")
    with pytest.raises(DataError) as info:
        torchworks.load(image_run).predict(texts)
    assert info.value.what == f"'{texts}' lists no image files" and "my card" in info.value.got


def test_listing_reads_no_pixels_and_passes_over_missing_inputs(tmp_path):
    state = {"max_pixels": 10**6, "short_side": 8, "image_size": 8, "color_mode": "RGB", "mean": [0.5] * 3,
             "std": [0.5] * 3}
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n")
    dataset, names = image_inputs([str(broken)], state)  # listed, not decoded: no error yet
    assert names == [str(broken)] and len(dataset) == 1
    with pytest.raises(DataError, match="cannot read image"):
        dataset[0]
    with collecting_bad_inputs() as bad:
        dataset, names = image_inputs([str(tmp_path / "gone.png"), str(broken)], state)
    assert names == [str(broken)] and [(b.input, b.position) for b in bad.found] == [(str(tmp_path / "gone.png"), 0)]
