"""Images and their boxes as tensors for training and evaluation, decoded when an item is asked for.

Decoding keeps the pixels as stored: the EXIF orientation is **not** applied, because the annotations
(COCO, YOLO, VOC alike) are in the stored image's pixels. Every colour model becomes RGB: grey and
16-bit images are spread to three channels, transparency (RGBA, LA, palette with a transparent index)
is composited on white. A file that cannot be decoded, is truncated, or whose size differs from what
the annotations say raises :class:`~torchworks.errors.DataError` naming it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision import tv_tensors

from torchworks.errors import DataError
from torchworks.pixels import flatten_pixels
from torchworks.tasks.object_detection.annotations import (
    DEFAULT_MAX_PIXELS,
    DetectionImage,
)
from torchworks.uploads import Upload

Target = dict[str, Any]


def decode_rgb(source: Any, max_pixels: int = DEFAULT_MAX_PIXELS, name: str | None = None) -> Image.Image:
    """The image ``source`` (a path, an :class:`~torchworks.uploads.Upload` or a PIL image) fully decoded,
    as stored (no EXIF rotation), in RGB. ``name`` is how messages call it (the path by default).

    Raises:
        DataError: Missing, not an image, truncated, or over ``max_pixels`` (checked before decoding).
    """
    name = str(source) if name is None else name
    try:
        with open_picture(source) as opened:
            width, height = opened.size
            if width * height > max_pixels:
                raise DataError(f"image '{name}' is too large", expected=f"at most max_pixels={max_pixels:,} pixels",
                                got=f"{width}x{height}", hint="raise max_pixels=, shrink the image, or predict on "
                                "it with tile=")
            opened.load()
            return flatten_pixels(opened, keep_gray=False)
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"image '{name}' does not exist", expected="the image file named", got="no such file",
                        hint="restore the file, or use bad_files=skip") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise DataError(f"cannot read image '{name}'", expected="a readable image file", got=decoder_complaint(error),
                        hint="fix or remove that file") from None


def open_picture(source: Any) -> Image.Image:
    """``source`` opened lazily (only the header is read): a path, an Upload's bytes, or a PIL image as is."""
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, Upload):
        return Image.open(io.BytesIO(source.data))
    return Image.open(source)


def picture_size(source: Any, name: str) -> tuple[int, int]:
    """``(width, height)`` of ``source`` from its header alone; a file opened for it is closed again (a
    PIL image is the caller's and stays open).

    Raises:
        DataError: Missing or not an image.
    """
    try:
        if isinstance(source, Image.Image):
            return source.size
        with open_picture(source) as opened:
            return opened.size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise DataError(f"cannot read image '{name}'", expected="a readable image file",
                        got="no such file" if isinstance(error, FileNotFoundError) else decoder_complaint(error),
                        hint="fix or remove that file") from None


def decoder_complaint(error: Exception) -> str:
    """A decoder's complaint on one line, without the address of an in-memory file object."""
    text = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
    return re.sub(r"<_io\.BytesIO object at 0x[0-9a-f]+>", "in the upload", text)


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
