"""Tiny segmentation data written into tmp_path: 16x16 images and their masks, made here with numpy and PIL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_picture(path: Path, pixels: np.ndarray, mode: str | None = None, palette: list[int] | None = None) -> Path:
    """Save ``pixels`` as an image file (the suffix picks the format); ``palette`` makes a mode P PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = Image.fromarray(pixels, mode=mode) if mode else Image.fromarray(pixels)
    if palette is not None:
        picture.putpalette(palette)
    picture.save(path)
    return path


def index_mask(seed: int, size: int = 16, values: tuple[int, ...] = (0, 1, 2)) -> np.ndarray:
    """A mask of background with one square of each further value, placed by ``seed``."""
    rng = np.random.default_rng(seed)
    mask = np.full((size, size), values[0], dtype=np.uint8)
    for value in values[1:]:
        top, left = rng.integers(0, size - 5, 2)
        mask[top:top + 5, left:left + 5] = value
    return mask


def photo(mask: np.ndarray, seed: int = 0) -> np.ndarray:
    """An RGB picture whose red channel follows the mask (so a model or a test can see the classes)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 40, (*mask.shape, 3), dtype=np.uint8)
    pixels[..., 0] = (mask.astype(np.int64) * 50 % 256).astype(np.uint8)
    return pixels


def make_folder(root: Path, count: int = 10, values: tuple[int, ...] = (0, 1, 2), size: int = 16,
                mask_for=None, split: str | None = None) -> Path:
    """``root/images/NN.png`` and ``root/masks/NN.png`` (in ``<split>/`` folders when ``split`` is given);
    ``mask_for(i)`` may return any mask array instead of :func:`index_mask`."""
    for index in range(count):
        mask = mask_for(index) if mask_for else index_mask(index, size, values)
        sub = f"{split}/" if split else ""
        write_picture(root / "images" / f"{sub}{index:02d}.png", photo(mask[..., 0] if mask.ndim == 3 else mask, index))
        write_picture(root / "masks" / f"{sub}{index:02d}.png", mask)
    return root


@pytest.fixture
def save_picture():
    """:func:`write_picture` (test modules cannot import conftest)."""
    return write_picture


@pytest.fixture
def make_seg_folder():
    """:func:`make_folder`: a folder of images and masks."""
    return make_folder


@pytest.fixture
def draw_mask():
    """:func:`index_mask`: a mask with a square per value."""
    return index_mask
