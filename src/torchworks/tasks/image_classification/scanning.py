"""Decode every image once before training: bad files are found now, never mid-epoch."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from torchworks.console import say
from torchworks.errors import DataError
from torchworks.progress import track
from torchworks.tables import counted, listing
from torchworks.tasks.image_classification.decoding import BadImage, decode_image, resize_short_side
from torchworks.tasks.image_classification.sources import LabelledFile

CACHE_BUDGET_BYTES = 2 * 1024**3


@dataclass
class ScanResult:
    """Usable files with their (optionally cached) pixels and colour statistics; skipped files."""

    files: list[LabelledFile]
    pixels: list[np.ndarray] | None
    gray: list[bool]
    channel_means: np.ndarray  # (N, 3) mean of each image's RGB channels in [0, 1]
    channel_sq_means: np.ndarray
    native_short_sides: list[int]
    skipped: list[dict[str, str]] = field(default_factory=list)


def scan_images(
    files: list[LabelledFile], short_side: int, max_pixels: int, bad_files: str, cache: str, progress: bool
) -> ScanResult:
    """Decode ``files`` in parallel threads, resized to ``short_side``.

    Raises:
        DataError: With ``bad_files=fail``, the first unreadable file (named).
    """
    keep_pixels = cache == "true" or (cache == "auto" and len(files) * short_side**2 * 4 <= CACHE_BUDGET_BYTES)

    def decode(item: LabelledFile):  # runs in a worker thread: PIL releases the GIL while decoding
        try:
            image = decode_image(item.path, max_pixels)
        except BadImage as exc:
            return None, str(exc)
        native = min(image.pixels.shape[:2])
        return (resize_short_side(image.pixels, short_side), native, image.is_gray), None

    result = ScanResult([], [] if keep_pixels else None, [], np.zeros((0, 3)), np.zeros((0, 3)), [])
    means, squares, skipped = [], [], []
    workers = min(8, (os.cpu_count() or 2) * 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        decoded = pool.map(decode, files)
        for item, (image, reason) in zip(files, track(decoded, "checking images", total=len(files), enabled=progress)):
            if image is None:
                if bad_files == "fail":
                    raise DataError(
                        f"cannot read image '{item.origin}'",
                        expected="a readable PNG, JPEG, BMP, GIF, TIFF or WebP image",
                        got=reason,
                        hint="fix or remove the file, or set bad_files=skip",
                    )
                result.skipped.append({"file": item.origin, "reason": reason})
                skipped.append(f"{_short_name(item)} ({_short_reason(reason)})")
                continue
            pixels, native, is_gray = image
            result.native_short_sides.append(native)
            rgb = np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels
            values = rgb.reshape(-1, 3).astype(np.float64) / 255.0
            means.append(values.mean(axis=0))
            squares.append((values**2).mean(axis=0))
            result.files.append(item)
            result.gray.append(is_gray)
            if result.pixels is not None:
                result.pixels.append(pixels)
    if means:
        result.channel_means, result.channel_sq_means = np.stack(means), np.stack(squares)
    if skipped:
        from rich.markup import escape

        say(f"[yellow]warning:[/yellow] skipped {counted(len(skipped), 'unreadable image')} (bad_files=skip): "
            + escape(listing(skipped)))
    return result


def _short_name(item: LabelledFile) -> str:
    """``cats/a.png`` for a file found in a class folder; the row that listed it for a CSV."""
    if item.origin == str(item.path):
        return f"{item.path.parent.name}/{item.path.name}"
    return item.origin


def _short_reason(reason: str) -> str:
    """PIL's messages in a few words (they repeat the full path)."""
    lowered = reason.lower()
    if "cannot identify image file" in lowered:
        return "not an image"
    if "truncated" in lowered:
        return "truncated"
    return reason if len(reason) <= 60 else reason[:57] + "..."
