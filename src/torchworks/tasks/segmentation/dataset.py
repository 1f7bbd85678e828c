"""Images and masks as tensors for training and evaluation, decoded when an item is asked for, and the
collate functions that pad a batch of differently sized images.

Images are read by :func:`torchworks.image_files.decode_rgb` (as stored, RGB); masks by
:func:`~torchworks.tasks.segmentation.reading.load_mask` and coded into contiguous class indices by a
:class:`~torchworks.tasks.segmentation.classes.MaskCoder`. A mask whose size differs from its image raises
a :class:`~torchworks.errors.DataError` naming both files and sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torchvision import tv_tensors

from torchworks.errors import DataError
from torchworks.image_files import DEFAULT_MAX_PIXELS, decode_rgb
from torchworks.tasks.segmentation.classes import MaskCoder
from torchworks.tasks.segmentation.reading import SegmentationItem, load_mask, size_mismatch


class SegmentationDataset(torch.utils.data.Dataset):
    """``(image float32 [3, H, W] in [0, 1], mask int64 [H, W])`` per item; the mask holds class indices
    ``0..C-1`` (the order of ``state["labels"]``) and ``coder.ignore_index`` for ignored pixels.

    Args:
        items: The image and mask pairs (kept, readable as :attr:`items`).
        coder: Turns stored mask values or colours into class indices.
        max_pixels: Images and masks larger than this are refused before decoding.
        transform: Called as ``transform(tv_tensors.Image uint8, tv_tensors.Mask int64)`` and returning
            ``(image float, mask int64)`` (see :mod:`~torchworks.tasks.segmentation.transforms`); None: the
            whole image and mask as stored.
    """

    def __init__(self, items: Sequence[SegmentationItem], coder: MaskCoder, *, max_pixels: int = DEFAULT_MAX_PIXELS,
                 transform: Callable[..., tuple[torch.Tensor, torch.Tensor]] | None = None):
        self.items = list(items)
        self.coder = coder
        self.max_pixels = max_pixels
        self.transform = transform

    @property
    def names(self) -> list[str]:
        """A short name per item (the image's path below the data's root), for reports."""
        return [item.name for item in self.items]

    @property
    def ignore_index(self) -> int:
        return self.coder.ignore_index

    def plain(self) -> SegmentationDataset:
        """The same items without augmentation: whole images and masks as stored."""
        return SegmentationDataset(self.items, self.coder, max_pixels=self.max_pixels, transform=None)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        item = self.items[index]
        image = torch.from_numpy(np.array(decode_rgb(item.image, self.max_pixels, item.name), dtype=np.uint8))
        mask = self.mask(index)
        if tuple(mask.shape) != tuple(image.shape[:2]):
            raise size_mismatch(item, image.shape[1], image.shape[0], mask.shape[1], mask.shape[0])
        image = image.permute(2, 0, 1)
        if self.transform is None:
            return image.float() / 255.0, mask
        return self.transform(tv_tensors.Image(image), tv_tensors.Mask(mask))

    def mask(self, index: int) -> torch.Tensor:
        """The mask of item ``index`` as int64 class indices ``[H, W]``, untransformed."""
        item = self.items[index]
        raw = load_mask(item.mask, item.mask_name, max_pixels=self.max_pixels, grey_rgb=not self.coder.colour)
        if raw.colour != self.coder.colour:
            raise DataError(f"mask '{item.mask_name}' is stored otherwise than the training masks",
                            expected="colour (RGB) masks" if self.coder.colour else "masks of class values",
                            got="colours" if raw.colour else "class values")
        return torch.from_numpy(self.coder.encode(raw.values, item.mask_name))


def pad_to(tensors: Sequence[torch.Tensor], fill: float) -> torch.Tensor:
    """Tensors ``[..., H, W]`` padded at the bottom and right to the largest height and width, stacked."""
    height = max(int(t.shape[-2]) for t in tensors)
    width = max(int(t.shape[-1]) for t in tensors)
    out = tensors[0].new_full((len(tensors), *tensors[0].shape[:-2], height, width), fill)
    for index, tensor in enumerate(tensors):
        out[index, ..., :tensor.shape[-2], :tensor.shape[-1]] = tensor
    return out


def collate(batch: Sequence[tuple[torch.Tensor, torch.Tensor]], ignore_index: int = 255
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images [B, 3, H, W], masks [B, H, W])``: images padded with 0 and masks with ``ignore_index`` at the
    bottom and right to the batch's largest height and width (so padding never counts)."""
    return pad_to([image for image, _ in batch], 0.0), pad_to([mask for _, mask in batch], ignore_index)


def collate_images(batch: Sequence[Any]) -> torch.Tensor | list[Any]:
    """Unlabelled prediction items (tensors ``[3, H, W]``) padded with 0 at the bottom and right, stacked;
    pictures for the sliding window (``tile=``) stay whole, a list."""
    if batch and not isinstance(batch[0], torch.Tensor):
        return list(batch)
    return pad_to(list(batch), 0.0)
