"""A deterministic generator of street-like scenes with ground truth: a box and a pixel mask per object.

Four classes (``car``, ``person``, ``sign``, ``cone``), each drawn from parts (a car is a body, a
cabin with windows, lights and wheels; a person a head, torso, arms and legs; a sign a plate with a
symbol on a pole; a cone a banded body on a base), with colours that vary within a class and overlap
between classes, so that colour alone does not tell the classes apart. Sizes span COCO's small
(< 32^2 px), medium and large ranges at the default 320 px. Backgrounds are gradients, smooth noise,
stripes, tiles, grass or a road with lanes under a sky; clutter shapes that are not objects are
drawn in front of and behind the objects; lighting (brightness, contrast, colour cast, a light
gradient), sensor noise and, at times, a slight blur are applied to the whole image. About one
image in ten has no object.

Occlusion: objects and clutter are stacked in depth. An object whose visible share (after
occlusion and after the image border) would be under ``1 - max_hidden`` (30 % by default) is *not
drawn at all*, so every drawn object has a box and no box hides an invisible object. The box of a
drawn object is its full extent (the box it would have if nothing were in front of it), clipped to
the image; each annotation also carries ``visibility``, the share of the object that can be seen.
The mask gives every pixel the class of the object seen there (after occlusion by objects and clutter
in front of it), ``0`` for background and clutter, ``k + 1`` for class ``k``; it is exact where the
object's layer is at least half opaque, so the anti-aliased rim of an object follows that rule too.
Drawing the mask draws no random numbers: the pixels are the same with or without it.

Image ``i`` depends only on ``(seed, i, size)`` and the settings, not on ``n``: a small sample is
a prefix of a larger one. Same arguments, same bytes (with the same Pillow build).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from torchworks.scenes.objects import (
    SUPERSAMPLE,
    any_colour,
    draw_object,
    finish_layer,
    hsv,
    shade,
)

CLASSES: tuple[str, ...] = ("car", "person", "sign", "cone")
SUPERCATEGORY = {"car": "vehicle", "person": "person", "sign": "traffic", "cone": "obstacle"}
CLASS_SHARE = (0.3, 0.3, 0.2, 0.2)  # a mild imbalance, as in real street data
VERSION = 1


@dataclass
class Scene:
    """One rendered image: ``image`` (H x W x 3 uint8), boxes ``[x, y, w, h]`` in pixels, class indices
    into :data:`CLASSES`, visible shares, ``mask`` (H x W uint8: 0 background, ``k + 1`` class ``k``);
    ``background`` is the same image without objects and clutter (same lighting and noise), kept only
    when asked for."""

    image: np.ndarray
    boxes: list[list[int]]
    labels: list[int]
    visibility: list[float]
    mask: np.ndarray
    background: np.ndarray | None = None


def render_scene(index: int, size: int = 320, seed: int = 0, *, empty_share: float = 0.1,
                 max_objects: int = 8, max_hidden: float = 0.7, keep_background: bool = False) -> Scene:
    """Render scene ``index`` of the sample with ``seed``; depends on nothing else."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index, size, VERSION]))
    canvas = Image.fromarray(_background(rng, size))
    plain = canvas.copy() if keep_background else None

    count = 0 if rng.random() < empty_share else int(rng.integers(1, max_objects + 1))
    items: list[tuple[float, int, Image.Image, int, int]] = []  # depth, class (-1: clutter), layer, x, y
    placed: list[tuple[int, int, int, int]] = []
    for _ in range(count):
        label = int(rng.choice(len(CLASSES), p=CLASS_SHARE))
        layer = draw_object(rng, CLASSES[label], size)
        x, y = _place(rng, layer.size, size, placed)
        placed.append((x, y, x + layer.width, y + layer.height))
        items.append((float(rng.random()), label, layer, x, y))
    for _ in range(int(rng.integers(0, 9))):
        layer = _draw_clutter(rng, size)
        x = int(rng.integers(-layer.width // 3, size - layer.width * 2 // 3 + 1))
        y = int(rng.integers(-layer.height // 3, size - layer.height * 2 // 3 + 1))
        # clutter lies mostly behind the objects; a few pieces pass in front of them
        items.append((float(rng.random()) * (1.0 if rng.random() < 0.3 else 0.5), -1, layer, x, y))
    items.sort(key=lambda item: item[0])

    # front to back: drop an object that would be hidden too much by what lies before it
    covered = np.zeros((size, size), dtype=bool)
    kept: list[tuple[int, Image.Image, int, int, float]] = []
    for _, label, layer, x, y in reversed(items):
        alpha = np.asarray(layer.getchannel("A")) >= 128
        total = int(alpha.sum())
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + layer.width, size), min(y + layer.height, size)
        if total == 0 or x1 <= x0 or y1 <= y0:
            continue
        inside = alpha[y0 - y:y1 - y, x0 - x:x1 - x]
        visible = float((inside & ~covered[y0:y1, x0:x1]).sum()) / total
        if label >= 0 and (visible < 1.0 - max_hidden or x1 - x0 < 2 or y1 - y0 < 2):
            continue
        covered[y0:y1, x0:x1] |= inside
        kept.append((label, layer, x, y, visible))

    boxes, labels, visibility = [], [], []
    mask = np.zeros((size, size), dtype=np.uint8)
    for label, layer, x, y in ((k[0], k[1], k[2], k[3]) for k in reversed(kept)):
        canvas.paste(layer, (x, y), layer)
        _paint_mask(mask, layer, x, y, label + 1)  # clutter (label -1) paints background over what it hides
    for label, layer, x, y, visible in kept[::-1]:
        if label < 0:
            continue
        left, top, right, bottom = layer.getchannel("A").point(lambda a: 255 if a >= 32 else 0).getbbox()
        x0, y0 = max(x + left, 0), max(y + top, 0)
        x1, y1 = min(x + right, size), min(y + bottom, size)
        boxes.append([x0, y0, x1 - x0, y1 - y0])
        labels.append(label)
        visibility.append(visible)

    light = _lighting(rng, size)
    blur = float(rng.uniform(0.4, 1.0)) if rng.random() < 0.2 else 0.0
    noise = rng.standard_normal((size, size, 3), dtype=np.float32) * np.float32(rng.uniform(1.5, 6.0))
    image = _finish(canvas, light, blur, noise)
    background = _finish(plain, light, blur, noise) if plain is not None else None
    return Scene(image, boxes, labels, visibility, mask, background)


def _paint_mask(mask: np.ndarray, layer: Image.Image, x: int, y: int, value: int) -> None:
    """Set ``value`` where ``layer`` (pasted at ``x, y``) is at least half opaque, within the image."""
    size_y, size_x = mask.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + layer.width, size_x), min(y + layer.height, size_y)
    if x1 <= x0 or y1 <= y0:
        return
    opaque = np.asarray(layer.getchannel("A"))[y0 - y:y1 - y, x0 - x:x1 - x] >= 128
    mask[y0:y1, x0:x1][opaque] = value


# ---------------------------------------------------------------- colours and placement


def _place(rng: np.random.Generator, layer_size: tuple[int, int], size: int,
           placed: list[tuple[int, int, int, int]]) -> tuple[int, int]:
    """A position that lets at most a fifth of the object out of the frame and, when it can, keeps
    its overlap with the objects already placed moderate (the occlusion pass decides the rest)."""
    w, h = layer_size
    best, best_overlap = (0, 0), 2.0
    for _ in range(8):
        x = int(rng.integers(-w // 5, max(size - w + w // 5, -w // 5) + 1))
        y = int(rng.integers(-h // 5, max(size - h + h // 5, -h // 5) + 1))
        overlap = 0.0
        for a0, b0, a1, b1 in placed:
            inter = max(0, min(a1, x + w) - max(a0, x)) * max(0, min(b1, y + h) - max(b0, y))
            overlap = max(overlap, inter / min(w * h, (a1 - a0) * (b1 - b0)))
        if overlap < best_overlap:
            best, best_overlap = (x, y), overlap
        if overlap < 0.35:
            break
    return best


# ---------------------------------------------------------------- backgrounds


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    grid = (rng.random((cells, cells)) * 255).astype(np.uint8)
    field = Image.fromarray(grid).resize((size, size), Image.BICUBIC)
    return np.asarray(field, dtype=np.float32) / 255.0


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: np.ndarray) -> np.ndarray:
    a_ = np.asarray(a, dtype=np.float32)
    b_ = np.asarray(b, dtype=np.float32)
    return a_ + (b_ - a_) * t[..., None]


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    kind = int(rng.integers(0, 6))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    a, b = any_colour(rng, v=(0.15, 0.95)), any_colour(rng, v=(0.15, 0.95))
    if kind == 0:  # gradient
        angle = rng.uniform(0, 2 * math.pi)
        t = xx * math.cos(angle) + yy * math.sin(angle)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        pixels = _mix(a, b, t)
    elif kind == 1:  # smooth noise, two octaves
        t = 0.65 * _smooth_noise(rng, size, int(rng.integers(3, 7))) + 0.35 * _smooth_noise(rng, size, 16)
        pixels = _mix(a, b, t)
    elif kind == 2:  # stripes
        angle = rng.uniform(0, math.pi)
        freq = rng.uniform(3, 14)
        t = 0.5 + 0.5 * np.sin(2 * math.pi * freq * (xx * math.cos(angle) + yy * math.sin(angle)))
        if rng.random() < 0.5:
            t = (t > 0.5).astype(np.float32)
        b = shade(a, rng.uniform(0.55, 0.85)) if rng.random() < 0.5 else b
        pixels = _mix(a, b, t)
    elif kind == 3:  # tiles
        cells = int(rng.integers(4, 12))
        t = ((np.floor(xx * cells) + np.floor(yy * cells)) % 2).astype(np.float32)
        t = 0.15 + 0.5 * t + 0.35 * _smooth_noise(rng, size, 8)
        pixels = _mix(a, shade(a, rng.uniform(0.5, 0.8)), t)
    elif kind == 4:  # grass or gravel: fine noise
        base = hsv(rng.uniform(0.18, 0.4) if rng.random() < 0.6 else rng.uniform(0.05, 0.12),
                    rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7))
        t = 0.5 * _smooth_noise(rng, size, 40) + 0.3 * _smooth_noise(rng, size, 80) \
            + 0.2 * _smooth_noise(rng, size, 5)
        pixels = _mix(shade(base, 0.6), shade(base, 1.35), t)
    else:
        return _road(rng, size, yy, xx)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def _road(rng: np.random.Generator, size: int, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    horizon = rng.uniform(0.15, 0.45)
    sky_top = hsv(rng.uniform(0.55, 0.65), rng.uniform(0.2, 0.7), rng.uniform(0.6, 1.0)) \
        if rng.random() < 0.7 else hsv(rng.uniform(0.02, 0.1), rng.uniform(0.3, 0.7), rng.uniform(0.5, 0.9))
    sky = _mix(sky_top, shade(sky_top, rng.uniform(1.05, 1.3)), np.clip(yy / horizon, 0, 1))
    grey = rng.uniform(60, 140)
    asphalt = (grey, grey * rng.uniform(0.95, 1.05), grey * rng.uniform(0.95, 1.1))
    t = 0.6 * _smooth_noise(rng, size, 60) + 0.4 * _smooth_noise(rng, size, 6)
    ground = np.asarray(asphalt, dtype=np.float32) * (0.8 + 0.4 * t[..., None])
    pixels = np.where((yy < horizon)[..., None], sky, ground)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    vx, vy = rng.uniform(0.3, 0.7) * size, horizon * size
    paint = (235, 235, 225) if rng.random() < 0.6 else (230, 190, 40)
    for offset in rng.choice([-1.2, -0.4, 0.4, 1.2], size=int(rng.integers(1, 4)), replace=False):
        bottom = vx + offset * size
        dashed = rng.random() < 0.6
        for k in range(12):
            t0, t1 = k / 12, (k + (0.55 if dashed else 1.0)) / 12
            t0, t1 = t0 ** 1.6, t1 ** 1.6  # perspective: dashes grow towards the viewer
            half0, half1 = 0.3 + 4 * t0 * size / 320, 0.3 + 4 * t1 * size / 320
            y0, y1 = vy + t0 * (size - vy), vy + t1 * (size - vy)
            x0, x1 = vx + t0 * (bottom - vx), vx + t1 * (bottom - vx)
            draw.polygon([(x0 - half0, y0), (x0 + half0, y0), (x1 + half1, y1), (x1 - half1, y1)], fill=paint)
    if rng.random() < 0.5:  # a kerb and pavement on one side
        side = 1 if rng.random() < 0.5 else -1
        edge = vx + side * size * rng.uniform(0.8, 1.5)
        kerb = shade((170, 170, 165), rng.uniform(0.7, 1.1))
        far = size if side > 0 else 0
        draw.polygon([(vx, vy), (edge, size), (far + side * size, size), (far + side * size, vy)], fill=kerb)
    return np.asarray(image)


# ---------------------------------------------------------------- objects


def _draw_clutter(rng: np.random.Generator, size: int) -> Image.Image:
    """A shape that is none of the classes: a blob, a bar, a ring, a scribble or an irregular polygon."""
    w = max(int(size * math.exp(rng.uniform(math.log(0.03), math.log(0.3)))), 3)
    h = max(int(w * math.exp(rng.uniform(-0.8, 0.8))), 3)
    s = SUPERSAMPLE
    layer = Image.new("RGBA", (w * s, h * s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    colour = any_colour(rng)
    W, H = w * s - 1, h * s - 1
    kind = int(rng.integers(0, 5))
    if kind == 0:
        draw.ellipse([0, 0, W, H], fill=colour)
    elif kind == 1:
        draw.rectangle([0, 0, W, H], fill=colour)
        if rng.random() < 0.5:
            draw.rectangle([W * 0.2, H * 0.2, W * 0.8, H * 0.8], fill=any_colour(rng))
    elif kind == 2:
        width = max(int(min(W, H) * 0.18), 2)
        draw.ellipse([0, 0, W, H], outline=colour, width=width)
    elif kind == 3:
        points = [(float(rng.uniform(0, W)), float(rng.uniform(0, H))) for _ in range(int(rng.integers(3, 6)))]
        draw.line(points, fill=colour, width=max(int(min(W, H) * 0.12), 2), joint="curve")
    else:
        angles = np.sort(rng.uniform(0, 2 * math.pi, int(rng.integers(5, 9))))
        radii = rng.uniform(0.45, 1.0, len(angles))
        draw.polygon([(W / 2 + W / 2 * r * math.cos(a), H / 2 + H / 2 * r * math.sin(a))
                      for a, r in zip(angles, radii)], fill=colour)
    return finish_layer(rng, layer, w, h)


def _lighting(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-pixel gain (a light gradient times a brightness), a colour cast and a contrast."""
    angle = rng.uniform(0, 2 * math.pi)
    ramp = np.linspace(-0.5, 0.5, size, dtype=np.float32)
    gradient = rng.uniform(0.0, 0.5) * (ramp[None, :] * math.cos(angle) + ramp[:, None] * math.sin(angle))
    gain = (rng.uniform(0.6, 1.3) * (1.0 + gradient)).astype(np.float32)
    cast = np.asarray(rng.uniform(0.85, 1.15, 3), dtype=np.float32)
    return gain, cast, float(rng.uniform(0.7, 1.3))


def _finish(canvas: Image.Image, light: tuple[np.ndarray, np.ndarray, float], blur: float,
            noise: np.ndarray) -> np.ndarray:
    if blur:
        canvas = canvas.filter(ImageFilter.GaussianBlur(blur))
    gain, cast, contrast = light
    pixels = np.asarray(canvas, dtype=np.float32)
    pixels = (pixels - 128.0) * contrast + 128.0
    pixels = pixels * gain[..., None] * cast + noise
    return np.clip(pixels, 0, 255).astype(np.uint8)
