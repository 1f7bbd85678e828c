"""Augmentation that moves image and mask together, built from torchvision's transforms v2.

Every transform here is called as ``transform(image, mask)`` with ``image`` a ``tv_tensors.Image`` (uint8
``[3, H, W]``) and ``mask`` a ``tv_tensors.Mask`` (int64 ``[H, W]`` of class indices and the ignore index),
and returns ``(image float32 [3, h, w] in [0, 1], mask int64 [h, w])`` as plain tensors. Geometry applies
to both (the mask resized by nearest neighbour, so no new class values appear); colour to the image alone.

Training, in this order: a random scale by a factor in ``[1 - scale, 1 + scale]``, padding to at least
``image_size`` on each side (image with 0, mask with the ignore index, so padding never counts), a random
``image_size`` square crop, horizontal and vertical flips, and a colour jitter. Evaluation and prediction
see the whole image unchanged (:func:`eval_transform`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

Pair = tuple[torch.Tensor, torch.Tensor]


class RandomScale(v2.Transform):
    """Resize image and mask by one random factor in ``[low, high]`` (aspect ratio kept); masks by nearest
    neighbour (what torchvision's resize does for a ``tv_tensors.Mask``)."""

    def __init__(self, low: float, high: float):
        super().__init__()
        if not 0 < low <= high:
            raise ValueError(f"scale range [{low}, {high}] is not a positive range")
        self.low, self.high = low, high

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = v2.query_size(flat_inputs)
        factor = self.low + (self.high - self.low) * float(torch.rand(()))
        return {"size": [max(1, round(height * factor)), max(1, round(width * factor))]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not isinstance(inpt, (tv_tensors.Image, tv_tensors.Mask)):
            return inpt
        return F.resize(inpt, params["size"], antialias=True)


class _Finish(v2.Transform):
    """The image to float32 in [0, 1] and both back to plain tensors (what the model and collate take)."""

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, tv_tensors.Image):
            return F.to_dtype(inpt, torch.float32, scale=True).as_subclass(torch.Tensor)
        if isinstance(inpt, tv_tensors.Mask):
            return inpt.as_subclass(torch.Tensor).to(torch.int64)
        return inpt


def train_transform(image_size: int, ignore_index: int, *, hflip: float = 0.5, vflip: float = 0.0,
                    scale: float = 0.25, color: float = 0.5) -> Callable[..., Pair]:
    """The training augmentation: random scale, pad, random ``image_size`` crop, flips, colour jitter.

    Args:
        image_size: Side of the square crops.
        ignore_index: Mask value of padded pixels.
        hflip: Probability of a horizontal flip.
        vflip: Probability of a vertical flip.
        scale: Scale jitter: a factor in ``[1 - scale, 1 + scale]`` (0: none).
        color: Probability of a colour jitter (brightness, contrast, saturation) of the image.
    """
    steps: list[Any] = []
    if scale > 0:
        steps.append(RandomScale(1.0 - scale, 1.0 + scale))
    steps.append(_crop(image_size, ignore_index))
    if hflip > 0:
        steps.append(v2.RandomHorizontalFlip(p=hflip))
    if vflip > 0:
        steps.append(v2.RandomVerticalFlip(p=vflip))
    if color > 0:
        steps.append(v2.RandomApply([v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3)], p=color))
    return v2.Compose([*steps, _Finish()])


def crop_transform(image_size: int, ignore_index: int) -> Callable[..., Pair]:
    """Training without augmentation (``augment=false``): only the pad and random crop that keep batches of
    one size and memory bounded, whatever the size of the images."""
    return v2.Compose([_crop(image_size, ignore_index), _Finish()])


def eval_transform() -> Callable[..., Pair]:
    """The whole image and mask unchanged, the image scaled to [0, 1] (validation, test, prediction)."""
    return v2.Compose([_Finish()])


def _crop(image_size: int, ignore_index: int) -> v2.RandomCrop:
    return v2.RandomCrop(image_size, pad_if_needed=True, fill={tv_tensors.Image: 0, tv_tensors.Mask: ignore_index})
