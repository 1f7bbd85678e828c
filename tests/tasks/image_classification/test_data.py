"""prepare_image_data: whole-dataset checks (D1/D2) before any training starts."""

from __future__ import annotations

import numpy as np
import pytest

from torchworks.errors import DataError
from torchworks.tasks.image_classification.config import ImageClassificationConfig
from torchworks.tasks.image_classification.data import prepare_image_data


def _config(data, **overrides) -> ImageClassificationConfig:
    settings = {"data": str(data), "model": "smallcnn", "image_size": 16, "crop": 1.0, "progress": False,
                "mlflow": False, **overrides}
    return ImageClassificationConfig(**settings)


def test_shapes_dataset_is_prepared(shapes_dir):
    data = prepare_image_data(_config(shapes_dir), None, None)
    sizes = [len(data.train), len(data.val), len(data.test)]
    assert sum(sizes) == 36 and all(n >= 3 for n in sizes)
    assert data.state["labels"] == ["circle", "square", "stripes"]
    assert data.state["channels"] == 1 and data.state["color_mode"] == "L"
    image, target = data.train[0]
    assert tuple(image.shape) == (1, 16, 16) and target in (0, 1, 2)
    assert data.summary["skipped files"] == 0
    # every image lands in exactly one split, and each split holds each class equally (12 per class)
    counts = [np.bincount([int(split[i][1]) for i in range(len(split))], minlength=3).tolist()
              for split in (data.train, data.val, data.test)]
    assert [sum(column) for column in zip(*counts)] == [12, 12, 12]
    assert all(len(set(row)) == 1 for row in counts), counts
    # the normalization is that of the pixels (0..1), within what the train/all difference allows
    from PIL import Image

    pixels = np.stack([np.asarray(Image.open(p), dtype=np.float64) / 255 for p in sorted(shapes_dir.rglob("*.png"))])
    assert data.state["mean"] == pytest.approx([pixels.mean()], abs=0.01)
    assert data.state["std"] == pytest.approx([pixels.std()], abs=0.01)


def test_single_class_is_refused(tmp_path, make_shapes_dataset):
    root = make_shapes_dataset(tmp_path / "one", classes=("circle",), per_class=5)
    with pytest.raises(DataError) as info:
        prepare_image_data(_config(root), None, None)
    assert "single class 'circle'" in info.value.what


def test_no_usable_images_at_all_is_refused(tmp_path):
    for label in ("cat", "dog"):
        (tmp_path / "data" / label).mkdir(parents=True)
        (tmp_path / "data" / label / "broken.png").write_bytes(b"")
    with pytest.raises(DataError) as info:
        prepare_image_data(_config(tmp_path / "data", bad_files="skip"), None, None)
    assert "no usable images" in info.value.what and info.value.got == "2 unreadable files"


def test_corrupt_file_fails_the_build_with_bad_files_fail(shapes_dir):
    bad = shapes_dir / "square" / "corrupt.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with pytest.raises(DataError) as info:
        prepare_image_data(_config(shapes_dir, bad_files="fail"), None, None)
    assert str(bad) in info.value.what


def test_corrupt_file_is_skipped_and_reported_with_bad_files_skip(shapes_dir):
    bad = shapes_dir / "square" / "corrupt.png"
    bad.write_bytes(b"")
    data = prepare_image_data(_config(shapes_dir, bad_files="skip"), None, None)
    assert len(data.train) + len(data.val) + len(data.test) == 36
    assert data.summary["skipped files"] == 1
    assert f"skipped: {bad}" in data.summary


def test_rgb_and_gray_mix_uses_rgb(tmp_path, write_image, make_shapes_dataset):
    root = make_shapes_dataset(tmp_path / "d", classes=("circle", "square"), per_class=6)
    write_image(root / "circle" / "colour.png", np.full((16, 16, 3), 90, dtype=np.uint8))
    data = prepare_image_data(_config(root), None, None)
    assert data.state["color_mode"] == "RGB" and len(data.state["mean"]) == 3
    image, _ = data.train[0]
    assert image.shape[0] == 3


def test_stored_state_refuses_unknown_classes(tmp_path, make_shapes_dataset):
    root = make_shapes_dataset(tmp_path / "d", classes=("circle", "square"), per_class=6)
    state = prepare_image_data(_config(root), None, None).state
    other = make_shapes_dataset(tmp_path / "other", classes=("circle", "cross"), per_class=6)
    with pytest.raises(DataError) as info:
        prepare_image_data(_config(other), state, None)
    assert "cross" in info.value.got
