"""Images and their boxes as tensors for training and evaluation, decoded when an item is asked for
(by :func:`torchworks.image_files.decode_rgb`: as stored, in RGB). An image whose size differs from
what the annotations say raises :class:`~torchworks.errors.DataError` naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torchvision import tv_tensors

from torchworks.errors import DataError
from torchworks.image_files import DEFAULT_MAX_PIXELS, decode_rgb
from torchworks.tasks.object_detection.annotations import DetectionImage

Target = dict[str, Any]


class DetectionDataset(torch.utils.data.Dataset):
    """``(image float [3, H, W], target)`` per image; the target holds ``boxes`` (float32 N x 4 XYXY in
    the transformed image's pixels), ``labels`` (int64), ``iscrowd`` (bool), ``image_id`` (the index in
    ``images``, int64) and ``orig_size`` (int64 ``[height, width]`` of the stored image).

    Args:
        images: The images with their annotations.
        transform: Called as ``transform(pil_image, target)`` with ``target["boxes"]`` a
            ``tv_tensors.BoundingBoxes``; see ``transforms.train_transform`` and ``eval_transform``.
            None: the image as a float tensor in [0, 1] at its stored size.
        max_pixels: Larger images are refused before decoding.
    """

    def __init__(self, images: Sequence[DetectionImage], transform: Callable[..., Any] | None = None, *,
                 max_pixels: int = DEFAULT_MAX_PIXELS):
        self.images = list(images)
        self.transform = transform
        self.max_pixels = max_pixels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Target]:
        item = self.images[index]
        picture = decode_rgb(item.path, self.max_pixels)
        if picture.size != (item.width, item.height):
            rotated = picture.size == (item.height, item.width)
            raise DataError(f"image '{item.path}' is not the size its annotations give",
                            expected=f"{item.width}x{item.height} (from {item.source})",
                            got=f"{picture.size[0]}x{picture.size[1]}",
                            hint="the annotations seem made on the EXIF-rotated image; save the images rotated "
                            "(without the EXIF orientation) and re-export the annotations" if rotated else
                            "fix the width and height in the annotations, or re-export them")
        boxes = tv_tensors.BoundingBoxes(torch.as_tensor(np.asarray(item.boxes, dtype=np.float32).reshape(-1, 4)),
                                         format="XYXY", canvas_size=(item.height, item.width))
        target: Target = {"boxes": boxes,
                          "labels": torch.as_tensor(np.asarray(item.labels, dtype=np.int64).reshape(-1)),
                          "iscrowd": torch.as_tensor(np.asarray(item.iscrowd, dtype=bool).reshape(-1)),
                          "image_id": torch.tensor(index, dtype=torch.int64),
                          "orig_size": torch.tensor([item.height, item.width], dtype=torch.int64)}
        if self.transform is not None:
            image, target = self.transform(picture, target)
        else:
            image = torch.from_numpy(np.array(picture, dtype=np.uint8)).permute(2, 0, 1)
        if image.dtype == torch.uint8:
            image = image.float() / 255.0
        target["boxes"] = target["boxes"].as_subclass(torch.Tensor).to(torch.float32)
        return image.as_subclass(torch.Tensor), target


def collate(batch: Sequence[tuple[torch.Tensor, Target]]) -> tuple[torch.Tensor, list[Target]]:
    """Images stacked into ``[B, 3, H, W]`` (the transform made them one size), targets kept as a list."""
    images = [image for image, _ in batch]
    sizes = {tuple(image.shape) for image in images}
    if len(sizes) > 1:
        raise ValueError(f"images of different sizes {sorted(sizes)} cannot be stacked; "
                         "use a transform that resizes to one size (transforms.eval_transform)")
    return torch.stack(images), [target for _, target in batch]
