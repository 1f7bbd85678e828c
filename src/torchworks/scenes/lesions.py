"""A deterministic generator of medical-like greyscale scans with known lesion masks.

Each scan is a slice through a body: an irregular outline on a dark field (sometimes cropped so the body
fills the frame), a bright fat-like rim under the skin, an organ of its own brightness, and tissue made of
smooth noise at several scales. On it lie *decoys*: smooth, rimless Gaussian spots and streaks (vessels,
partial-volume blobs), as bright or as dark as lesions. The lesions themselves (0 to ``max_lesions`` per
scan; some scans have none) are irregular blobs from a few pixels to a fifth of the image across, brighter
or darker than the tissue, some faint, with a border that is sharp on one side and fuzzy on another. What
sets them apart is not their intensity but their make: a defined border, a rim that is stronger than the
core, and a granular inner texture. Finally the acquisition adds an intensity gradient, vignetting and
multiplicative speckle, so that no single global threshold (Otsu) finds the lesions, while a small U-Net,
which sees texture and borders, can.

The mask is exactly where a lesion is drawn: a pixel is lesion where a lesion's own opacity is at least
one half. Scan ``i`` depends only on ``(seed, i, size)`` and the settings; same arguments, same pixels.
Nothing here writes files (``torchworks.tasks.segmentation.samples`` does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

VERSION = 1
_STREAM = 0x1E5105  # keeps these random streams apart from the street scenes' for equal (seed, index, size)
_REFERENCE_SIZE = 192  # lengths below are in pixels at this size and scale with the image


@dataclass
class LesionScan:
    """One rendered scan: ``image`` (H x W x 3 uint8, three equal channels), ``mask`` (H x W uint8: 1 on a
    lesion, 0 elsewhere), and per drawn lesion its mean radius in pixels and its signed contrast (positive:
    brighter than the tissue; on a 0-1 intensity scale)."""

    image: np.ndarray
    mask: np.ndarray
    radii: list[float]
    contrasts: list[float]


def render_lesion_scan(index: int, size: int = 192, seed: int = 0, *, empty_share: float = 0.15,
                       max_lesions: int = 4) -> LesionScan:
    """Render scan ``index`` of the sample with ``seed``; depends on nothing else.

    Args:
        index: Which scan of the sample (any non-negative integer).
        size: Side of the square image in pixels.
        seed: The sample's seed.
        empty_share: Chance that a scan has no lesion.
        max_lesions: Most lesions in one scan (the count is uniform from 1 when there are any).

    Returns:
        The scan, its binary mask and what was drawn.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, index, size, VERSION, _STREAM]))
    scale = size / _REFERENCE_SIZE
    body, depth = _body(rng, size)
    tissue = _tissue(rng, size, body, depth)
    grain = _smooth_noise(rng, size, max(4, size // 3))  # the lesions' granular texture, period ~3 px
    _add_decoys(rng, tissue, body, depth, scale)
    mask = np.zeros((size, size), dtype=np.uint8)
    radii: list[float] = []
    contrasts: list[float] = []
    count = 0 if rng.random() < empty_share else int(rng.integers(1, max_lesions + 1))
    for _ in range(count):
        radius, contrast = _add_lesion(rng, tissue, mask, grain, depth, scale)
        radii.append(radius)
        contrasts.append(contrast)
    grey = _acquire(rng, tissue)
    return LesionScan(np.repeat(grey[:, :, None], 3, axis=2), mask, radii, contrasts)


def _uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """One uniform draw as a Python float (a numpy float64 scalar would turn float32 arrays into float64)."""
    return float(rng.uniform(low, high))


def _sign(rng: np.random.Generator, positive: float = 0.5) -> float:
    """+1 with probability ``positive``, else -1."""
    return 1.0 if rng.random() < positive else -1.0


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Roughly unit-variance noise that varies over ``size / cells`` pixels (a coarse grid, upsampled)."""
    grid = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
    return np.array(Image.fromarray(grid).resize((size, size), Image.Resampling.BICUBIC))


def _outline_depth(rng: np.random.Generator, size: int, centre: tuple[float, float], axes: tuple[float, float],
                   angle: float, strength: float) -> np.ndarray:
    """How far each pixel lies inside an irregular ellipse, in pixels along its first axis (negative
    outside). The field is smooth, so it is computed on a grid four times coarser and upsampled: the
    arctangent over every pixel would cost more than the rest of the scan."""
    cells = max(8, size // 4)
    step = size / cells
    y, x = np.ogrid[:cells, :cells]
    dx, dy = (x + 0.5) * step - centre[0], (y + 0.5) * step - centre[1]
    cos, sin = math.cos(angle), math.sin(angle)
    u = (dx * cos + dy * sin) / axes[0]
    v = (dy * cos - dx * sin) / axes[1]
    depth = ((1 - np.sqrt(u * u + v * v) / _wobble(rng, np.arctan2(v, u), strength)) * axes[0]).astype(np.float32)
    return np.array(Image.fromarray(depth).resize((size, size), Image.Resampling.BILINEAR))


def _wobble(rng: np.random.Generator, theta: np.ndarray, strength: float, orders: int = 4) -> np.ndarray:
    """A smooth random radius factor around 1 as a function of angle: the irregularity of an outline."""
    wobble = np.ones_like(theta)
    for order in range(2, 2 + orders):
        wobble += strength * _uniform(rng, 0, 1) / order * np.cos(order * theta + _uniform(rng, 0, 2 * np.pi))
    return np.maximum(wobble, 0.4)


def _body(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The body's opacity (1 inside, 0 in the dark field around it) and each pixel's depth under the skin
    in pixels (negative outside); one scan in four is a close-up where the body fills the frame, so that
    'body versus air' is not always the easy split."""
    reach = size * (_uniform(rng, 0.6, 0.75) if rng.random() < 0.25 else _uniform(rng, 0.34, 0.47))
    centre = size * (0.5 + rng.normal(0, 0.03, 2))
    axes = reach, reach * _uniform(rng, 0.75, 1.0)
    depth = _outline_depth(rng, size, centre, axes, _uniform(rng, 0, np.pi), 0.15)
    return np.clip(0.5 + depth / 3, 0, 1), depth  # a skin about three pixels wide


def _tissue(rng: np.random.Generator, size: int, body: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Intensities on a 0-1 scale before acquisition: air, a fat-like rim inside the skin, an organ and
    tissue noise at three scales."""
    level = _uniform(rng, 0.35, 0.55)
    tissue = np.full((size, size), level, dtype=np.float32)
    for cells, amplitude in ((3, _uniform(rng, 0.03, 0.07)), (8, _uniform(rng, 0.02, 0.05)),
                             (max(4, size // 8), _uniform(rng, 0.01, 0.03))):
        tissue += amplitude * _smooth_noise(rng, size, cells)
    axes = size * _uniform(rng, 0.12, 0.3), size * _uniform(rng, 0.1, 0.25)
    organ = _outline_depth(rng, size, size * rng.uniform(0.3, 0.7, 2), axes, _uniform(rng, 0, np.pi), 0.2)
    tissue += np.clip(0.5 + organ / 2, 0, 1) * _sign(rng) * _uniform(rng, 0.04, 0.12)
    # a bright layer just inside the skin, like subcutaneous fat: a strong edge no lesion owns
    fat = _uniform(rng, 2.0, 6.0) * size / _REFERENCE_SIZE
    tissue += np.exp(-(((depth - fat) / fat) ** 2)) * _uniform(rng, 0.1, 0.3)
    air = _uniform(rng, 0.03, 0.1) + 0.01 * _smooth_noise(rng, size, 6)
    return air + body * (tissue - air)


def _random_point(rng: np.random.Generator, depth: np.ndarray, margin: float) -> tuple[float, float, float]:
    """A point at least ``margin`` pixels inside the body, or the deepest of the tries when none is; with
    its depth."""
    size = depth.shape[0]
    best = (size / 2, size / 2, -math.inf)
    for _ in range(30):
        x, y = (float(c) for c in rng.uniform(0, size, 2))
        here = float(depth[int(y), int(x)])
        if here >= margin:
            return x, y, here
        if here > best[2]:
            best = (x, y, here)
    return best


def _patch(cx: float, cy: float, reach: float, size: int) -> tuple[slice, slice, np.ndarray, np.ndarray]:
    """The pixel window around ``(cx, cy)`` within ``reach`` and its pixel-centre offsets from the point."""
    x0, x1 = max(0, int(cx - reach)), min(size, int(np.ceil(cx + reach)) + 1)
    y0, y1 = max(0, int(cy - reach)), min(size, int(np.ceil(cy + reach)) + 1)
    dy, dx = np.ogrid[y0:y1, x0:x1]
    return slice(y0, y1), slice(x0, x1), (dx + 0.5 - cx).astype(np.float32), (dy + 0.5 - cy).astype(np.float32)


def _add_decoys(rng: np.random.Generator, tissue: np.ndarray, body: np.ndarray, depth: np.ndarray,
                scale: float) -> None:
    """Smooth Gaussian spots and streaks as bright or dark as lesions, but rimless, borderless and without
    grain: the background blobs that make intensity alone a poor guide."""
    size = tissue.shape[0]
    for _ in range(int(rng.integers(2, 9))):
        cx, cy, _ = _random_point(rng, depth, 0.0)
        sigma = _uniform(rng, 2.0, 12.0) * scale  # along the long axis
        stretch = _uniform(rng, 2.0, 5.0) if rng.random() < 0.4 else _uniform(rng, 1.0, 1.6)
        angle = _uniform(rng, 0, np.pi)
        rows, cols, dx, dy = _patch(cx, cy, 3 * sigma, size)
        cos, sin = math.cos(angle), math.sin(angle)
        u = (dx * cos + dy * sin) / sigma
        v = (dy * cos - dx * sin) * (stretch / sigma)
        amplitude = _sign(rng) * _uniform(rng, 0.05, 0.3)
        tissue[rows, cols] += amplitude * np.exp(-0.5 * (u * u + v * v)) * body[rows, cols]


def _add_lesion(rng: np.random.Generator, tissue: np.ndarray, mask: np.ndarray, grain: np.ndarray,
                depth: np.ndarray, scale: float) -> tuple[float, float]:
    """Draw one lesion into ``tissue`` and mark it in ``mask`` where its own opacity is at least one half;
    returns its radius (the mean of its wobbling outline) and its signed contrast."""
    size = tissue.shape[0]
    radius = math.exp(_uniform(rng, math.log(1.5), math.log(36.0))) * scale  # log-uniform: many small, some large
    faint = rng.random() < 0.3
    contrast = _uniform(rng, 0.04, 0.09) if faint else _uniform(rng, 0.1, 0.3)
    if radius < 3 * scale:  # a lesion a few pixels across shows only with some contrast
        contrast = max(contrast, _uniform(rng, 0.12, 0.25))
    contrast *= _sign(rng, 0.6)
    cx, cy, room = _random_point(rng, depth, 1.5 * radius + 2)
    radius = max(min(radius, (room - 2) / 1.5), 1.5 * scale)  # shrunk, if need be, to stay inside the body
    rows, cols, dx, dy = _patch(cx, cy, radius * 2.2 + 2, size)
    theta = np.arctan2(dy, dx)
    outline = radius * _wobble(rng, theta, _uniform(rng, 0.2, 0.7))
    # border width as a share of the radius: sharp all round, and in most lesions widened into a fuzzy,
    # ragged side towards one direction
    sharp = _uniform(rng, 0.05, 0.15)
    fuzz = _uniform(rng, 0, 0.8) if rng.random() < 0.6 else 0.0
    toward = _uniform(rng, 0, 2 * np.pi)
    width = np.maximum(sharp + fuzz * np.maximum(0, np.cos(theta - toward)) ** 2, 0.6 / radius)  # >= ~1 px
    local_grain = grain[rows, cols]
    distance = np.sqrt(dx * dx + dy * dy) / outline + 0.15 * width * local_grain
    alpha = np.clip(0.5 + (1 - distance) / (2 * width), 0, 1)
    rim = 1 + _uniform(rng, 0.5, 1.0) * np.exp(-(((distance - 0.8) / 0.15) ** 2))  # the rim outshines the core
    texture = 1 + _uniform(rng, 0.3, 0.5) * local_grain
    tissue[rows, cols] += alpha * contrast * rim * texture
    mask[rows, cols] |= (alpha >= 0.5).astype(np.uint8)
    return radius, float(contrast)


def _acquire(rng: np.random.Generator, tissue: np.ndarray) -> np.ndarray:
    """What the scanner adds: a linear intensity gradient, vignetting and multiplicative speckle; 8 bits."""
    size = tissue.shape[0]
    y, x = np.ogrid[:size, :size]
    u, v = ((x + 0.5) / size - 0.5).astype(np.float32), ((y + 0.5) / size - 0.5).astype(np.float32)
    gx, gy = (float(g) for g in rng.uniform(-0.35, 0.35, 2))
    shade = (1 + gx * u + gy * v) * (1 - _uniform(rng, 0, 0.35) * 2 * (u * u + v * v))
    # speckle scales with the signal; the floor of 0.04 keeps some noise in the dark field as well
    speckle = _uniform(rng, 0.03, 0.08) * rng.standard_normal((size, size), dtype=np.float32)
    image = tissue * shade
    image += (image + 0.04) * speckle
    return np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)
