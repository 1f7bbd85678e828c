"""Decoding images as every image task reads them: as stored, RGB, refused unread when too large."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from torchworks.errors import DataError
from torchworks.image_files import decode_rgb, picture_size
from torchworks.uploads import Upload


def test_grey_sixteen_bit_and_transparent_images_become_rgb(tmp_path):
    grey, deep, clear = tmp_path / "grey.png", tmp_path / "deep.png", tmp_path / "clear.png"
    Image.new("L", (5, 4), 77).save(grey)
    Image.fromarray(np.full((4, 5), 65535, dtype=np.uint16)).save(deep)
    Image.new("RGBA", (5, 4), (10, 20, 30, 0)).save(clear)
    assert np.asarray(decode_rgb(grey))[0, 0].tolist() == [77, 77, 77]
    assert np.asarray(decode_rgb(deep))[0, 0].tolist() == [255, 255, 255]
    assert np.asarray(decode_rgb(clear))[0, 0].tolist() == [255, 255, 255]  # composited on white
    assert all(decode_rgb(path).mode == "RGB" for path in (grey, deep, clear))


def test_an_image_over_max_pixels_is_refused_from_its_header(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (40, 30)).save(path)
    assert picture_size(path, "big.png") == (40, 30)
    with pytest.raises(DataError, match="too large") as info:
        decode_rgb(path, max_pixels=1000)
    assert "40x30" in info.value.got and "tile=" in info.value.hint


def test_an_upload_that_is_not_an_image_is_named_without_a_memory_address():
    with pytest.raises(DataError) as info:
        decode_rgb(Upload("notes.png", b"plain text"), name="notes.png")
    assert "notes.png" in info.value.what and "0x" not in info.value.got
