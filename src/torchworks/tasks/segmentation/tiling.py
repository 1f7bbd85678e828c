"""Sliding-window prediction for images too large to segment whole (``tile=SIZE overlap=F``).

The image is cut into ``SIZE x SIZE`` windows that overlap their neighbours by ``overlap`` of a side
(the last window of a row or column moved back to end at the image's edge, so every window is whole and
of one size). Each window's class probabilities are weighted by a bump that is 1 in the window's middle
and falls smoothly towards its edges, where a network sees least context; each pixel's probabilities are
the weighted mean over the windows covering it. Seams therefore carry no visible tile border, and where a
pixel is far from every window edge the result is what one whole-image pass would give.

Memory stays bounded by the tile, not the image: windows are run a row at a time, and only one band of
``SIZE`` rows of blended probabilities (``classes x SIZE x width`` floats) is held; rows no later window
touches are finished into one byte of class and one of confidence per pixel as the pass moves down. An
8000 x 8000 image with 5 classes and ``tile=512`` holds its pixels (192 MB as bytes), the two output maps
(128 MB) and an 82 MB band, against some 4 GB of float image and logits for one whole-image pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from torchworks.image_windows import window_starts

TILED_MAX_PIXELS = 150_000_000  # images up to this size are read for tiled prediction (12,000 x 12,000)
WINDOWS_PER_CALL = 4  # windows of one row run through the network together
EDGE_WEIGHT = 0.01  # a window's weight at its very edge, relative to its middle


@dataclass(frozen=True)
class WholePicture:
    """An image to be predicted in windows: its pixels as they are stored, ``uint8 [3, H, W]`` (a quarter
    of the memory of floats), neither padded nor batched with others."""

    pixels: torch.Tensor


def window_weights(height: int, width: int) -> torch.Tensor:
    """``[height, width]`` weights of one window: a raised cosine across each side, 1 in the middle and
    :data:`EDGE_WEIGHT` at the edges (never 0, so that an image edge covered by one window still counts)."""

    def bump(length: int) -> torch.Tensor:
        position = (torch.arange(length, dtype=torch.float32) + 0.5) / length  # pixel centres in (0, 1)
        return EDGE_WEIGHT + (1 - EDGE_WEIGHT) * 0.5 * (1 - torch.cos(2 * torch.pi * position))

    return bump(height)[:, None] * bump(width)[None, :]


class SlidingWindow:
    """Predicts batches of :class:`WholePicture` window by window with ``model`` (a module, or an export's
    runner from float ``[B, 3, h, w]`` in [0, 1] to logits ``[B, C, h, w]``).

    Calling it returns one ``{"classes": [H, W], "confidence": [H, W] uint8}`` per picture, the class
    index and the winning class's blended probability (in 1/255 steps), as
    :func:`~torchworks.tasks.segmentation.predicting.class_maps` gives for a whole-image pass.
    """

    def __init__(self, model: Callable[[torch.Tensor], torch.Tensor], tile: int, overlap: float, num_classes: int,
                 windows_per_call: int = WINDOWS_PER_CALL):
        if tile < 1 or not 0 <= overlap < 1:
            raise ValueError(f"tile must be >= 1 and overlap in [0, 1), got {tile} and {overlap}")
        self.model, self.tile, self.overlap = model, tile, overlap
        self.num_classes, self.windows_per_call = num_classes, windows_per_call
        if isinstance(model, torch.nn.Module):
            model.eval()
        self.device = _device_of(model)

    def __call__(self, pictures: list[WholePicture]) -> list[dict[str, torch.Tensor]]:
        return [self.predict(picture.pixels) for picture in pictures]

    def predict(self, pixels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Class and confidence maps of one ``uint8 [3, H, W]`` image."""
        height, width = pixels.shape[-2:]
        rows, columns = min(self.tile, height), min(self.tile, width)
        weights = window_weights(rows, columns)
        dtype = torch.uint8 if self.num_classes <= 256 else torch.int16
        classes = torch.empty(height, width, dtype=dtype)
        confidence = torch.empty(height, width, dtype=torch.uint8)
        band = _Band(self.num_classes, rows, width)
        lefts = window_starts(width, self.tile, self.overlap)
        for top in window_starts(height, self.tile, self.overlap):
            band.move_to(top, classes, confidence)  # rows above ``top`` are finished
            for first in range(0, len(lefts), self.windows_per_call):
                chunk = lefts[first:first + self.windows_per_call]
                windows = torch.stack([pixels[:, top:top + rows, left:left + columns] for left in chunk])
                probabilities = self._run(windows.float().div_(255.0)).softmax(dim=1)
                for window, left in zip(probabilities, chunk):
                    band.add(window, weights, left)
        band.finish(classes, confidence)
        return {"classes": classes, "confidence": confidence}

    def _run(self, windows: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            if self.device is not None:
                windows = windows.to(self.device)
            return self.model(windows).float().cpu()


class _Band:
    """Blended probabilities of the rows ``[top, top + rows)`` of an image, and their summed weights."""

    def __init__(self, num_classes: int, rows: int, width: int):
        self.top, self.rows = 0, rows
        self.sums = torch.zeros(num_classes, rows, width)
        self.weights = torch.zeros(rows, width)

    def add(self, probabilities: torch.Tensor, weights: torch.Tensor, left: int) -> None:
        """Add one window's ``[C, rows, columns]`` probabilities at column ``left`` of the band."""
        right = left + probabilities.shape[-1]
        self.sums[:, :, left:right].addcmul_(probabilities, weights)
        self.weights[:, left:right] += weights

    def move_to(self, top: int, classes: torch.Tensor, confidence: torch.Tensor) -> None:
        """Finish the rows above ``top`` into the output maps and start the band there."""
        done = top - self.top
        if done <= 0:
            return
        _finish(self.sums[:, :done], self.weights[:done], classes, confidence, self.top)
        self.sums = torch.cat([self.sums[:, done:], self.sums.new_zeros(self.sums.shape[0], done, self.sums.shape[2])], 1)
        self.weights = torch.cat([self.weights[done:], self.weights.new_zeros(done, self.weights.shape[1])])
        self.top = top

    def finish(self, classes: torch.Tensor, confidence: torch.Tensor) -> None:
        """Finish the band's rows (the last of the image)."""
        _finish(self.sums, self.weights, classes, confidence, self.top)


def _finish(sums: torch.Tensor, weights: torch.Tensor, classes: torch.Tensor, confidence: torch.Tensor,
            top: int) -> None:
    best, index = (sums / weights).max(dim=0)
    rows = slice(top, top + sums.shape[1])
    classes[rows] = index.to(classes.dtype)
    confidence[rows] = (best.clamp(0, 1) * 255).round().to(torch.uint8)


def _device_of(model: Any) -> torch.device | None:
    """The device of a module's weights (None for an export's runner, which takes CPU tensors)."""
    if isinstance(model, torch.nn.Module):
        parameter = next(model.parameters(), None)
        return parameter.device if parameter is not None else None
    return None
