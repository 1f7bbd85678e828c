"""Safe image decoding: size limits before decode, full decode to catch truncation, one colour model."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from torchworks.pixels import flatten_pixels
from torchworks.uploads import Upload

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})


class BadImage(Exception):
    """An image that cannot be used, with the reason in words."""


@dataclass
class DecodedImage:
    """Pixels as uint8 (H x W for grayscale, H x W x 3 for colour)."""

    pixels: np.ndarray

    @property
    def is_gray(self) -> bool:
        return self.pixels.ndim == 2


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def decode_image(source: Path | Upload | Image.Image, max_pixels: int, short_side: int | None = None) -> DecodedImage:
    """Decode ``source`` fully, refusing oversized or broken files; optionally shrink it.

    Raises:
        BadImage: The file is missing, empty, truncated, not an image, or too large.
    """
    try:
        # Image.open reads only the header; the pixel count is checked before anything is decoded.
        if isinstance(source, Path):
            image = Image.open(source)
        elif isinstance(source, Upload):
            image = Image.open(io.BytesIO(source.data))
        else:
            image = source
        width, height = image.size
        if width * height > max_pixels:
            raise BadImage(f"{width}x{height} = {width * height:,} pixels exceeds max_pixels={max_pixels:,}")
        image.load()
        image = ImageOps.exif_transpose(image)
        pixels = _to_uint8(image)
    except BadImage:
        raise
    except FileNotFoundError:
        raise BadImage("file not found") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise BadImage(str(exc).splitlines()[0][:200] or type(exc).__name__) from None
    if short_side is not None:
        pixels = resize_short_side(pixels, short_side)
    return DecodedImage(pixels)


def resize_short_side(pixels: np.ndarray, short_side: int) -> np.ndarray:
    """Resize so the shorter side is ``short_side`` (antialiased), keeping the aspect ratio."""
    height, width = pixels.shape[:2]
    scale = short_side / min(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size == (width, height):
        return pixels
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR, reducing_gap=None))


def _to_uint8(image: Image.Image) -> np.ndarray:
    return np.asarray(flatten_pixels(image, keep_gray=True))
