"""The objects of the detection-scenes sample, each drawn from parts on its own transparent layer:
a car (body, cabin with windows, lights, wheels), a person (head, torso, arms, legs), a sign (a plate
with a symbol on a pole) and a cone (a banded body on a base), with colours that vary within a class."""

from __future__ import annotations

import colorsys
import math

import numpy as np
from PIL import Image, ImageDraw

# long side of an object as a share of the image side (log-uniform between the two)
LONG_SIDE = {"car": (0.07, 0.72), "person": (0.08, 0.68), "sign": (0.08, 0.58), "cone": (0.06, 0.45)}
ASPECT = {"car": (1.7, 2.5), "person": (2.3, 3.1), "sign": (1.9, 2.9), "cone": (1.15, 1.6)}  # long / short
SUPERSAMPLE = 2


def hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return int(r * 255), int(g * 255), int(b * 255)


def any_colour(rng: np.random.Generator, s: tuple[float, float] = (0.0, 0.9),
                v: tuple[float, float] = (0.2, 0.95)) -> tuple[int, int, int]:
    return hsv(rng.random(), rng.uniform(*s), rng.uniform(*v))


def shade(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(int(min(max(c * factor, 0), 255)) for c in colour)  # type: ignore[return-value]


def object_size(rng: np.random.Generator, name: str, size: int) -> tuple[int, int]:
    lo, hi = LONG_SIDE[name]
    long_side = size * math.exp(rng.uniform(math.log(lo), math.log(hi)))
    short = long_side / rng.uniform(*ASPECT[name])
    if name == "car":
        return max(int(round(long_side)), 6), max(int(round(short)), 3)
    return max(int(round(short)), 3), max(int(round(long_side)), 6)


def draw_object(rng: np.random.Generator, name: str, size: int) -> Image.Image:
    w, h = object_size(rng, name, size)
    s = SUPERSAMPLE
    layer = Image.new("RGBA", (w * s, h * s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    {"car": _car, "person": _person, "sign": _sign, "cone": _cone}[name](rng, draw, w * s, h * s)
    if rng.random() < 0.5:
        layer = layer.transpose(Image.FLIP_LEFT_RIGHT)
    return finish_layer(rng, layer, w, h)


def finish_layer(rng: np.random.Generator, layer: Image.Image, w: int, h: int) -> Image.Image:
    """Down-sample (anti-aliasing) and shade with a light that falls from above at a random slant."""
    small = layer.resize((w, h), Image.BOX)
    pixels = np.asarray(small, dtype=np.float32)
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    xx = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    slant = rng.uniform(-0.25, 0.25)
    shade = rng.uniform(0.8, 1.15) * (1.1 - rng.uniform(0.1, 0.3) * yy + slant * (xx - 0.5))
    rgb = np.clip(pixels[..., :3] * shade[..., None], 0, 255)
    return Image.fromarray(np.concatenate([rgb, pixels[..., 3:]], axis=-1).astype(np.uint8), "RGBA")


def _car(rng: np.random.Generator, draw: ImageDraw.ImageDraw, w: int, h: int) -> None:
    body = any_colour(rng)
    glass = hsv(rng.uniform(0.5, 0.65), rng.uniform(0.1, 0.4), rng.uniform(0.15, 0.55))
    tyre = shade((30, 30, 32), rng.uniform(0.7, 1.3))
    if rng.random() < 0.7:  # side view
        r = h * rng.uniform(0.18, 0.24)
        roof = rng.uniform(0.0, 0.08) * h
        belt = h * rng.uniform(0.38, 0.48)
        draw.rounded_rectangle([0, belt, w - 1, h - r * 0.9], radius=max(h * 0.1, 1), fill=body)
        c0, c1 = rng.uniform(0.12, 0.3) * w, rng.uniform(0.62, 0.85) * w
        top0, top1 = c0 + rng.uniform(0.05, 0.15) * w, c1 - rng.uniform(0.08, 0.2) * w
        draw.polygon([(c0, belt + 1), (top0, 0), (top1, 0), (c1, belt + 1)], fill=body)
        inset = max(h * 0.05, 1)
        draw.polygon([(c0 + 2 * inset, belt - inset), (top0 + inset, roof + inset),
                      (top1 - inset, roof + inset), (c1 - 2 * inset, belt - inset)], fill=glass)
        pillar = (top0 + top1) / 2
        draw.line([(pillar, 0), (pillar, belt)], fill=body, width=max(int(w * 0.025), 1))
        draw.rectangle([w - 1 - max(w * 0.04, 1), belt + h * 0.06, w - 1, belt + h * 0.14], fill=(250, 240, 190))
        draw.rectangle([0, belt + h * 0.06, w * 0.03, belt + h * 0.14], fill=(200, 20, 20))
        for cx in (w * rng.uniform(0.17, 0.23), w * rng.uniform(0.77, 0.83)):
            draw.ellipse([cx - r, h - 2 * r, cx + r, h - 1], fill=tyre)
            draw.ellipse([cx - r * 0.5, h - 1.5 * r, cx + r * 0.5, h - 0.5 * r], fill=shade((170, 170, 175),
                                                                                         rng.uniform(0.6, 1.2)))
    else:  # seen from behind: squarer, two tail lights, a plate and the tyres below
        # the car is drawn wide; squash it to a rear-view aspect by leaving the sides empty
        margin = w * rng.uniform(0.12, 0.2)
        x0, x1 = margin, w - 1 - margin
        bw = x1 - x0
        draw.rectangle([x0 + bw * 0.05, h * 0.82, x0 + bw * 0.22, h - 1], fill=tyre)
        draw.rectangle([x1 - bw * 0.22, h * 0.82, x1 - bw * 0.05, h - 1], fill=tyre)
        draw.polygon([(x0 + bw * 0.12, h * 0.4), (x0 + bw * 0.22, 0), (x1 - bw * 0.22, 0),
                      (x1 - bw * 0.12, h * 0.4)], fill=body)
        draw.polygon([(x0 + bw * 0.18, h * 0.37), (x0 + bw * 0.26, h * 0.06), (x1 - bw * 0.26, h * 0.06),
                      (x1 - bw * 0.18, h * 0.37)], fill=glass)
        draw.rounded_rectangle([x0, h * 0.36, x1, h * 0.88], radius=max(h * 0.06, 1), fill=body)
        draw.rectangle([x0 + bw * 0.04, h * 0.45, x0 + bw * 0.2, h * 0.56], fill=(210, 25, 25))
        draw.rectangle([x1 - bw * 0.2, h * 0.45, x1 - bw * 0.04, h * 0.56], fill=(210, 25, 25))
        draw.rectangle([x0 + bw * 0.38, h * 0.62, x1 - bw * 0.38, h * 0.74], fill=(240, 240, 235))


def _person(rng: np.random.Generator, draw: ImageDraw.ImageDraw, w: int, h: int) -> None:
    skin = hsv(rng.uniform(0.03, 0.1), rng.uniform(0.25, 0.6), rng.uniform(0.3, 0.95))
    shirt = any_colour(rng)
    trousers = any_colour(rng, v=(0.1, 0.7))
    hair = hsv(rng.uniform(0.02, 0.12), rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.6))
    cx = w / 2
    head = h * rng.uniform(0.13, 0.16)
    limb = max(w * 0.16, 1.5)
    shoulder, hip = head * 1.1, h * rng.uniform(0.5, 0.56)
    torso = w * rng.uniform(0.26, 0.32)
    # legs: a stride or standing
    stride = w * rng.uniform(-0.1, 0.2)
    for side in (-1, 1):
        draw.line([(cx + side * torso * 0.5, hip - limb), (cx + side * (torso * 0.5 + stride), h - limb * 0.5)],
                  fill=trousers, width=int(limb * 1.2))
    for side in (-1, 1):  # shoes
        foot = cx + side * (torso * 0.5 + stride)
        draw.rectangle([foot - limb * 0.8, h - limb, foot + limb * 0.8, h - 1], fill=(25, 25, 25))
    draw.rounded_rectangle([cx - torso, shoulder, cx + torso, hip], radius=max(torso * 0.35, 1), fill=shirt)
    # arms reach the sides of the box; a hand shows the skin
    for side in (-1, 1):
        hand_x = cx + side * (w / 2 - limb / 2)
        hand_y = h * rng.uniform(0.38, 0.55)
        draw.line([(cx + side * torso * 0.8, shoulder + limb * 0.6), (hand_x, hand_y)], fill=shirt,
                  width=int(limb))
        draw.ellipse([hand_x - limb * 0.5, hand_y - limb * 0.5, hand_x + limb * 0.5, hand_y + limb * 0.5],
                     fill=skin)
    draw.ellipse([cx - head * 0.42, 0, cx + head * 0.42, head], fill=skin)
    draw.chord([cx - head * 0.44, -1, cx + head * 0.44, head * 0.75], 180, 360, fill=hair)


def _sign(rng: np.random.Generator, draw: ImageDraw.ImageDraw, w: int, h: int) -> None:
    palette = [(0.0, 0.85), (0.6, 0.8), (0.13, 0.9), (0.33, 0.7), (0.0, 0.0)]
    hue, sat = palette[int(rng.integers(0, len(palette)))]
    plate = hsv(hue + rng.uniform(-0.03, 0.03), sat * rng.uniform(0.8, 1.1), rng.uniform(0.6, 0.95))
    border = (245, 245, 245) if sat > 0 and rng.random() < 0.6 else hsv(0.0, 0.9, 0.8)
    mark = (20, 20, 20) if rng.random() < 0.5 else (245, 245, 245)
    pole = shade((150, 150, 155), rng.uniform(0.5, 1.3))
    d = w - 1
    draw.rectangle([w * 0.44, d * 0.5, w * 0.56, h - 1], fill=pole)
    shape = int(rng.integers(0, 5))
    r = d / 2
    cx, cy = w / 2, r
    outer = [cx - r, cy - r, cx + r, cy + r]
    if shape == 0:
        draw.ellipse(outer, fill=border)
        draw.ellipse([cx - r * 0.8, cy - r * 0.8, cx + r * 0.8, cy + r * 0.8], fill=plate)
    elif shape == 1:
        tri = [(cx, cy - r), (cx + r, cy + r * 0.75), (cx - r, cy + r * 0.75)]
        draw.polygon(tri, fill=border)
        draw.polygon([(cx, cy - r * 0.55), (cx + r * 0.62, cy + r * 0.55), (cx - r * 0.62, cy + r * 0.55)],
                     fill=plate)
    elif shape == 2:
        draw.regular_polygon((cx, cy, r), 8, rotation=22.5, fill=border)
        draw.regular_polygon((cx, cy, r * 0.82), 8, rotation=22.5, fill=plate)
    elif shape == 3:
        draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=border)
        draw.polygon([(cx, cy - r * 0.75), (cx + r * 0.75, cy), (cx, cy + r * 0.75), (cx - r * 0.75, cy)],
                     fill=plate)
    else:
        draw.rectangle([cx - r, cy - r * 0.8, cx + r, cy + r * 0.8], fill=border)
        draw.rectangle([cx - r * 0.85, cy - r * 0.65, cx + r * 0.85, cy + r * 0.65], fill=plate)
    symbol = int(rng.integers(0, 3))
    if symbol == 0:
        draw.rectangle([cx - r * 0.45, cy - r * 0.1, cx + r * 0.45, cy + r * 0.12], fill=mark)
    elif symbol == 1:
        draw.polygon([(cx - r * 0.4, cy - r * 0.08), (cx + r * 0.05, cy - r * 0.08), (cx + r * 0.05, cy - r * 0.3),
                      (cx + r * 0.45, cy), (cx + r * 0.05, cy + r * 0.3), (cx + r * 0.05, cy + r * 0.08),
                      (cx - r * 0.4, cy + r * 0.08)], fill=mark)
    else:
        draw.ellipse([cx - r * 0.2, cy - r * 0.2, cx + r * 0.2, cy + r * 0.2], fill=mark)


def _cone(rng: np.random.Generator, draw: ImageDraw.ImageDraw, w: int, h: int) -> None:
    hue = rng.uniform(0.0, 0.13) if rng.random() < 0.8 else rng.uniform(0.2, 0.35)
    body = hsv(hue, rng.uniform(0.7, 1.0), rng.uniform(0.6, 1.0))
    band = (240, 240, 240) if rng.random() < 0.8 else (30, 30, 30)
    base_top = h * rng.uniform(0.84, 0.9)
    top_half, bottom_half = w * rng.uniform(0.05, 0.1), w * rng.uniform(0.36, 0.42)
    cx = w / 2

    def half(y: float) -> float:
        return top_half + (bottom_half - top_half) * y / base_top

    draw.rectangle([0, base_top, w - 1, h - 1], fill=shade(body, rng.uniform(0.3, 0.6)))
    draw.polygon([(cx - top_half, 0), (cx + top_half, 0), (cx + bottom_half, base_top),
                  (cx - bottom_half, base_top)], fill=body)
    for centre in ((0.35, 0.65) if rng.random() < 0.6 else (0.5,)):
        y0, y1 = base_top * (centre - 0.08), base_top * (centre + 0.08)
        draw.polygon([(cx - half(y0), y0), (cx + half(y0), y0), (cx + half(y1), y1), (cx - half(y1), y1)],
                     fill=band)


# ---------------------------------------------------------------- clutter and light
