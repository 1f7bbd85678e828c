"""Decoded images to 8-bit pixels, shared by the image tasks: 16-bit and float images scaled into
0-255, transparent areas put on white, grayscale kept or widened to RGB."""

from __future__ import annotations

import numpy as np
from PIL import Image

#: Modes whose pixels are one grey value (with or without alpha).
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
_WIDE_MODES = ("I", "I;16", "I;16B", "I;16L", "F")


def flatten_pixels(image: Image.Image, *, keep_gray: bool) -> Image.Image:
    """``image`` as 8-bit ``L`` (a grey image, when ``keep_gray``) or ``RGB``.

    16-bit images are divided by 257; 32-bit integer and float images are stretched from their own
    minimum to maximum. Transparency (an alpha channel or a palette's transparent entry) is composited
    on white.
    """
    mode = image.mode
    gray_out = "L" if keep_gray and mode in GRAY_MODES else "RGB"
    if mode in _WIDE_MODES:
        values = np.asarray(image, dtype=np.float32)
        if mode.startswith("I;16"):
            values = values / 257.0
        else:
            low, high = float(values.min()), float(values.max())
            values = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
        return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8)).convert(gray_out)
    if mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        return flat.convert(gray_out)
    return image.convert(gray_out)
