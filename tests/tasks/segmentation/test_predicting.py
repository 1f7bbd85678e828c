"""Prediction records: each image cut back to its own size from a padded batch, pixel counts that add up, and
RLE masks that decode back to the class map; inputs listed without decoding, a bad one named."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from torchworks.errors import DataError
from torchworks.tasks.segmentation.predicting import (
    PictureItem,
    class_map_of,
    class_maps,
    mask_records,
    picture_inputs,
)

STATE = {"labels": ["background", "road", "car"], "max_pixels": 10_000}


def test_records_cut_each_image_from_its_padded_batch_and_decode_back():
    classes = torch.zeros(2, 6, 8, dtype=torch.long)
    classes[0, 1:3, 2:5] = 2
    classes[1, :, :3] = 1
    classes[0, 5, :] = 1  # padding below the first image (4 rows): must not count
    logits = torch.nn.functional.one_hot(classes, 3).permute(0, 3, 1, 2).float() * 5
    outputs = class_maps(logits, STATE)
    items = [PictureItem("a.png", None, 4, 8), PictureItem("b.png", None, 6, 5)]
    first, second = mask_records(outputs, items, STATE)
    assert first["pixels"] == {"background": 26, "car": 6} and (first["width"], first["height"]) == (8, 4)
    assert second["pixels"] == {"background": 12, "road": 18}
    assert sum(first["share"].values()) == pytest.approx(1.0)
    assert np.array_equal(class_map_of(first, STATE["labels"]), classes[0, :4].numpy())
    assert np.array_equal(class_map_of(second, STATE["labels"]), classes[1, :, :5].numpy())
    assert first["mean_confidence"] == pytest.approx(float(torch.softmax(torch.tensor([5.0, 0, 0]), 0)[0]), abs=0.01)


def test_inputs_are_listed_from_headers_and_a_broken_file_is_named(tmp_path):
    Image.new("RGB", (7, 5), (255, 0, 0)).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_text("not an image")
    dataset, items = picture_inputs([str(tmp_path / "a.png")], STATE)
    assert [(item.name, item.height, item.width) for item in items] == [(str(tmp_path / "a.png"), 5, 7)]
    image = dataset[0]
    assert image.shape == (3, 5, 7) and torch.allclose(image[:, 0, 0], torch.tensor([1.0, 0, 0]))
    with pytest.raises(DataError, match="b.png"):  # outside predict's bad_files=skip the first bad file stops
        picture_inputs([str(tmp_path / "b.png")], STATE)


def test_an_image_over_max_pixels_raises_when_decoded(tmp_path):
    Image.new("RGB", (200, 100)).save(tmp_path / "big.png")
    dataset, _ = picture_inputs([str(tmp_path / "big.png")], STATE)
    with pytest.raises(DataError, match="too large"):
        dataset[0]
