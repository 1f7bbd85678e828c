"""D1: decoding refuses broken and oversized images before decoding them; every mode becomes uint8."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from torchworks.tasks.image_classification.decoding import (
    BadImage,
    decode_image,
    is_image_file,
    resize_short_side,
)

BIG = 10**8


def bomb_png(path: Path, width: int = 20_000, height: int = 20_000) -> Path:
    """A valid 1-bit PNG of width x height zeros: tens of KB on disk, 400 M pixels decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    block = row * 1000
    idat = b"".join(packer.compress(block) for _ in range(height // 1000)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


@pytest.fixture
def decode_calls(monkeypatch) -> list[tuple[int, int]]:
    """Sizes of every image whose pixel data PIL decodes."""
    calls: list[tuple[int, int]] = []
    real_load = ImageFile.ImageFile.load

    def load(self):
        calls.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return calls


def test_bomb_png_is_refused_without_decoding(tmp_path, decode_calls):
    path = bomb_png(tmp_path / "bomb.png")
    assert path.stat().st_size < 200_000
    assert struct.unpack(">II", path.read_bytes()[16:24]) == (20_000, 20_000)  # control: 400 M pixels claimed
    for max_pixels in (60_000_000, 10**9):  # PIL's own bomb limit still holds when max_pixels is raised
        with pytest.raises(BadImage) as info:
            decode_image(path, max_pixels=max_pixels)
        assert "pixels" in str(info.value)
    assert (20_000, 20_000) not in decode_calls


def test_image_over_max_pixels_is_refused_without_decoding(tmp_path, write_image, decode_calls):
    path = write_image(tmp_path / "big.png", np.zeros((100, 120), dtype=np.uint8))
    with pytest.raises(BadImage) as info:
        decode_image(path, max_pixels=11_999)
    assert "120x100 = 12,000 pixels exceeds max_pixels=11,999" in str(info.value)
    assert decode_calls == []
    assert decode_image(path, max_pixels=12_000).pixels.shape == (100, 120)
    assert (120, 100) in decode_calls  # control: the probe does see a real decode


def test_zero_byte_png_is_bad(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(BadImage):
        decode_image(path, BIG)


def test_truncated_png_is_bad(tmp_path, write_image):
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    good = write_image(tmp_path / "good.png", noise)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(data[: len(data) // 2])
    assert decode_image(good, BIG).pixels.shape == (64, 64, 3)
    with pytest.raises(BadImage, match="truncated"):
        decode_image(truncated, BIG)


def test_text_named_png_is_bad(tmp_path):
    path = tmp_path / "fake.png"
    path.write_text("this is not an image")
    with pytest.raises(BadImage):
        decode_image(path, BIG)


def test_missing_file_is_bad(tmp_path):
    with pytest.raises(BadImage, match="file not found"):
        decode_image(tmp_path / "gone.png", BIG)


def test_grayscale_stays_two_dimensional(tmp_path, write_image):
    pixels = np.arange(48, dtype=np.uint8).reshape(6, 8)
    decoded = decode_image(write_image(tmp_path / "g.png", pixels), BIG)
    assert decoded.is_gray and decoded.pixels.dtype == np.uint8
    assert np.array_equal(decoded.pixels, pixels)


def test_rgb_is_kept(tmp_path, write_image):
    pixels = np.random.default_rng(1).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    decoded = decode_image(write_image(tmp_path / "c.png", pixels), BIG)
    assert not decoded.is_gray and np.array_equal(decoded.pixels, pixels)


def test_rgba_is_composited_on_white(tmp_path, write_image):
    pixels = np.zeros((4, 4, 4), dtype=np.uint8)
    pixels[..., 0] = 200  # red, fully transparent on the left half
    pixels[:, 2:, 3] = 255
    decoded = decode_image(write_image(tmp_path / "a.png", pixels, "RGBA"), BIG)
    assert decoded.pixels.shape == (4, 4, 3)
    assert decoded.pixels[0, 0].tolist() == [255, 255, 255]
    assert decoded.pixels[0, 3].tolist() == [200, 0, 0]


def test_16_bit_png_is_scaled_to_8_bits(tmp_path):
    values = np.array([[0, 257 * 100], [257 * 200, 65535]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    decoded = decode_image(path, BIG)
    assert decoded.is_gray and decoded.pixels.dtype == np.uint8
    assert decoded.pixels.tolist() == [[0, 100], [200, 255]]


@pytest.mark.parametrize("mode", ["F", "I"])
def test_float_and_32_bit_images_are_stretched(tmp_path, mode):
    values = np.array([[-5.0, 0.0], [5.0, 15.0]], dtype=np.float32 if mode == "F" else np.int32)
    path = tmp_path / "deep.tiff"
    Image.fromarray(values).save(path)
    pixels = decode_image(path, BIG).pixels
    assert pixels.dtype == np.uint8 and pixels.min() == 0 and pixels.max() == 255
    assert pixels[0, 0] < pixels[0, 1] < pixels[1, 0] < pixels[1, 1]


def test_constant_float_image_does_not_divide_by_zero(tmp_path):
    path = tmp_path / "flat.tiff"
    Image.fromarray(np.full((3, 3), 7.0, dtype=np.float32)).save(path)
    assert decode_image(path, BIG).pixels.tolist() == [[0] * 3] * 3


def test_one_bit_and_palette_images(tmp_path):
    Image.new("1", (4, 4), 1).save(tmp_path / "bits.png")
    palette = Image.new("P", (4, 4), 3)
    palette.putpalette([0, 0, 0, 10, 20, 30, 40, 50, 60, 70, 80, 90] + [0] * 756)
    palette.save(tmp_path / "pal.png")
    assert decode_image(tmp_path / "bits.png", BIG).pixels.tolist() == [[255] * 4] * 4
    assert decode_image(tmp_path / "pal.png", BIG).pixels[0, 0].tolist() == [70, 80, 90]


def test_palette_transparency_is_composited_on_white(tmp_path):
    image = Image.new("P", (2, 2), 1)
    image.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    image.save(tmp_path / "t.png", transparency=1)
    assert decode_image(tmp_path / "t.png", BIG).pixels[0, 0].tolist() == [255, 255, 255]


def test_grayscale_with_alpha_is_composited_like_rgba(tmp_path):
    Image.new("LA", (2, 2), (0, 0)).save(tmp_path / "la.png")
    Image.new("RGBA", (2, 2), (0, 0, 0, 0)).save(tmp_path / "rgba.png")
    la = decode_image(tmp_path / "la.png", BIG).pixels
    rgba = decode_image(tmp_path / "rgba.png", BIG).pixels
    assert int(la[0, 0]) == int(rgba[0, 0, 0]) == 255


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (8, 4), (10, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees when displayed
    image.save(tmp_path / "rotated.jpg", exif=exif)
    assert decode_image(tmp_path / "rotated.jpg", BIG).pixels.shape == (8, 4, 3)


def test_an_open_pil_image_can_be_decoded():
    buffer = io.BytesIO()
    Image.new("RGB", (3, 2), (1, 2, 3)).save(buffer, format="PNG")
    buffer.seek(0)
    decoded = decode_image(Image.open(buffer), BIG).pixels
    assert decoded.shape == (2, 3, 3) and decoded.reshape(-1, 3).tolist() == [[1, 2, 3]] * 6


def test_short_side_resize_keeps_the_aspect_ratio(tmp_path, write_image):
    path = write_image(tmp_path / "wide.png", np.zeros((20, 60), dtype=np.uint8))
    assert decode_image(path, BIG, short_side=10).pixels.shape == (10, 30)
    tall = np.zeros((50, 10, 3), dtype=np.uint8)
    assert resize_short_side(tall, 5).shape == (25, 5, 3)
    assert resize_short_side(tall, 10) is tall


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.png", True), ("a.PNG", True), ("b.JpEg", True), ("c.tif", True), ("d.gif", True), (".hidden.png", False),
     ("notes.txt", False), ("png", False), ("archive.png.zip", False)],
)
def test_is_image_file(name, expected):
    assert is_image_file(Path(name)) is expected
