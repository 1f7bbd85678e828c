"""Boxes drawn over a picture: one colour per class, the label, the score and the track id above each box."""

from __future__ import annotations

import zlib
from functools import lru_cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont

# well-separated colours (Tableau's 10 and 10 more); a class keeps its colour in every picture and video
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207), (0, 0, 128), (128, 128, 0),
           (0, 128, 128), (128, 0, 128), (255, 215, 0), (0, 255, 127), (255, 99, 71), (70, 130, 180),
           (210, 105, 30), (154, 205, 50))


def class_colour(label: str, classes: list[str]) -> tuple[int, int, int]:
    """The colour of ``label``: by its index among the model's classes."""
    index = classes.index(label) if label in classes else len(classes) + zlib.crc32(label.encode()) % len(PALETTE)
    return PALETTE[index % len(PALETTE)]


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # a Pillow without FreeType has one bitmap size
        return ImageFont.load_default()


def draw_boxes(picture: Image.Image, boxes: list[dict[str, Any]], classes: list[str]) -> Image.Image:
    """A copy of ``picture`` (RGB) with ``boxes`` (records' ``{"xyxy", "label", "score", "track_id"}``)
    drawn on it, the best last so that it is on top."""
    image = picture.convert("RGB")  # a copy, whatever the mode
    draw = ImageDraw.Draw(image)
    side = min(image.size)
    line = max(2, round(side / 250))
    font = _font(max(10, round(side / 45)))
    for box in sorted(boxes, key=lambda b: b.get("score", 0)):
        left, top, right, bottom = box["xyxy"]
        colour = class_colour(box["label"], classes)
        draw.rectangle([left, top, right, bottom], outline=colour, width=line)
        text = f"{box['label']} {box.get('score', 0):.2f}"
        if box.get("track_id") is not None:
            text += f" #{box['track_id']}"
        text_left, text_top, text_right, text_bottom = draw.textbbox((0, 0), text, font=font)
        width, height = text_right - text_left + 4, text_bottom - text_top + 4
        y = top - height if top - height >= 0 else top  # above the box, or inside it at the top edge
        x = min(max(0, left), max(0, image.width - width))
        draw.rectangle([x, y, x + width, y + height], fill=colour)
        ink = (0, 0, 0) if sum(colour) > 450 else (255, 255, 255)
        draw.text((x + 2 - text_left, y + 2 - text_top), text, fill=ink, font=font)
    return image
