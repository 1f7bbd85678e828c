"""Masks made visible: class colours blended over an image, a coloured mask, and an error map.
numpy only, so predictions, the report and the server draw the same way."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

OVERLAY_OPACITY = 0.5
IGNORED_COLOUR = (255, 255, 255)
FALSE_POSITIVE = (255, 140, 0)  # predicted a class where the truth is background: orange
FALSE_NEGATIVE = (30, 110, 255)  # a class in the truth the prediction missed or confused: blue


def colour_mask(mask: np.ndarray, colours: Sequence[Sequence[int]], ignore_index: int | None = None) -> np.ndarray:
    """``mask`` (H x W class indices) as an H x W x 3 uint8 picture in the class colours; ignored pixels white."""
    table = np.zeros((max(len(colours), int(mask.max(initial=0)) + 1), 3), dtype=np.uint8)
    table[:len(colours)] = np.asarray(colours, dtype=np.uint8).reshape(-1, 3)
    picture = table[np.clip(mask, 0, len(table) - 1)]
    if ignore_index is not None:
        picture[mask == ignore_index] = IGNORED_COLOUR
    return picture


def overlay(image: np.ndarray, mask: np.ndarray, colours: Sequence[Sequence[int]], *,
            opacity: float = OVERLAY_OPACITY, background: int | None = 0, ignore_index: int | None = None
            ) -> np.ndarray:
    """``image`` (H x W x 3 uint8) with each class's colour blended in at ``opacity``; pixels of class
    ``background`` (and ignored ones) are left as they are."""
    painted = colour_mask(mask, colours)
    blend = np.ones(mask.shape, dtype=bool)
    if background is not None:
        blend &= mask != background
    if ignore_index is not None:
        blend &= mask != ignore_index
    out = image.astype(np.float32)
    out[blend] = (1 - opacity) * out[blend] + opacity * painted[blend]
    return out.round().clip(0, 255).astype(np.uint8)


def error_map(image: np.ndarray, truth: np.ndarray, predicted: np.ndarray, ignore_index: int) -> np.ndarray:
    """A dimmed grey ``image`` with wrong pixels in two colours: orange where a class was predicted on
    background (false positive), blue where a class of the truth was missed or confused (false negative)."""
    grey = image.astype(np.float32).mean(axis=2, keepdims=True).repeat(3, axis=2) * 0.5 + 64
    out = grey.clip(0, 255).astype(np.uint8)
    wrong = (truth != predicted) & (truth != ignore_index)
    out[wrong & (truth == 0)] = FALSE_POSITIVE
    out[wrong & (truth != 0)] = FALSE_NEGATIVE
    return out
