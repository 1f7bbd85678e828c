"""What a detector predicts on, and its boxes as records.

Inputs: image files, folders of them, CSVs of image paths, uploads, PIL images and numpy arrays.
Each image's size is read from its header when the inputs are listed (nothing is decoded then); the
pixels are decoded lazily, one batch at a time, and letterboxed to the model's input. Boxes go back to
the stored image's pixels (:func:`~torchworks.tasks.object_detection.transforms.to_original`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from torchworks.bad_inputs import pass_over
from torchworks.errors import DataError
from torchworks.image_inputs import Source, expand_input, input_name
from torchworks.pixels import flatten_pixels
from torchworks.tasks.object_detection.decoding import decode
from torchworks.tasks.object_detection.transforms import eval_transform, in_image
from torchworks.uploads import Upload

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})


@dataclass(frozen=True)
class ImageItem:
    """One picture to predict on: its name in records, its source and its stored size."""

    name: str
    source: Source
    height: int
    width: int


class ImageInputs(torch.utils.data.Dataset):
    """Letterboxed images, decoded when an item is asked for; a bad one raises DataError naming it."""

    def __init__(self, items: list[ImageItem], state: dict[str, Any]):
        self.items = items
        self.state = state
        self.transform = eval_transform(state["image_size"])

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> torch.Tensor:
        item = self.items[index]
        return self.transform(read_picture(item.source, item.name, self.state["max_pixels"]))


def read_picture(source: Source, name: str, max_pixels: int) -> Image.Image:
    """The image ``source`` fully decoded as stored (no EXIF rotation: boxes are in stored pixels), in RGB.

    Raises:
        DataError: Unreadable, truncated, or over ``max_pixels`` (judged before decoding).
    """
    try:
        picture = _open(source)
        width, height = picture.size
        if width * height > max_pixels:
            raise DataError(f"image '{name}' is too large", expected=f"at most max_pixels={max_pixels:,} pixels",
                            got=f"{width}x{height}", hint="raise max_pixels=, or use tile= on a smaller copy")
        picture.load()
        return flatten_pixels(picture, keep_gray=False)
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"image '{name}' does not exist", expected="an image file", got="no such file") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise DataError(f"cannot read image '{name}'", expected="a readable image file", got=reason,
                        hint="fix or remove that file") from None


def _open(source: Source) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, Upload):
        return Image.open(io.BytesIO(source.data))
    return Image.open(source)


def image_inputs(inputs: Sequence[Any], state: dict[str, Any]) -> tuple[ImageInputs, list[ImageItem]]:
    """The images of ``inputs`` (their headers read, nothing decoded) and one item per image."""
    items: list[ImageItem] = []
    for item in inputs:
        try:
            found = expand_input(item, IMAGE_SUFFIXES)
        except DataError as error:
            pass_over(input_name(item), error, len(items))
            continue
        for source, name in found:
            try:
                width, height = _open(source).size
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
                reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
                pass_over(name, DataError(f"cannot read image '{name}'", expected="a readable image file",
                                          got="no such file" if isinstance(error, FileNotFoundError) else reason,
                                          hint="fix or remove that file"), len(items))
                continue
            items.append(ImageItem(name, source, height, width))
    if not items:
        raise DataError("nothing to predict", expected="image files, folders of images or a CSV of paths",
                        got="no images in the inputs given")
    return ImageInputs(items, state), items


def box_records(outputs: dict[str, torch.Tensor], items: list[ImageItem], state: dict[str, Any]
                ) -> list[dict[str, Any]]:
    """One record per image: its boxes in the stored image's pixels (``xyxy``), class and score, best first."""
    size = state["image_size"]
    classes = state["labels"]
    options = prediction_settings(state)
    found = decode(outputs, (size, size), conf=options["conf"], iou=options["iou"], max_det=options["max_det"],
                   classes=wanted_classes(options["classes"], classes))
    records = []
    for item, detections in zip(items, found):
        detections = in_image(detections, (item.height, item.width), size)
        boxes = detections["boxes"]
        records.append({"input": item.name, "width": item.width, "height": item.height,
                        "count": len(boxes),
                        "boxes": [{"xyxy": [round(float(v), 1) for v in box], "label": classes[int(label)],
                                   "score": round(float(score), 4)}
                                  for box, label, score in zip(boxes, detections["labels"], detections["scores"])]})
    return records


def prediction_settings(state: dict[str, Any]) -> dict[str, Any]:
    """The prediction options given (``conf=0.5``) over the config's defaults."""
    from torchworks.tasks.object_detection.config import ObjectDetectionConfig

    fields = ObjectDetectionConfig.model_fields
    return {name: state.get(name, fields[name].default)
            for name in ("conf", "iou", "max_det", "classes", "track", "tile", "overlap")}


def wanted_classes(names: str | None, classes: list[str]) -> set[int] | None:
    """Indices of ``classes=`` (comma-separated names), or None for all.

    Raises:
        ConfigError: A name that is not one of the model's classes.
    """
    if not names:
        return None
    from torchworks.errors import ConfigError, did_you_mean

    wanted = set()
    for name in (part.strip() for part in names.split(",")):
        if not name:
            continue
        if name not in classes:
            raise ConfigError(f"classes= names an unknown class '{name}'", expected=", ".join(classes), got=name,
                              hint=did_you_mean(name, classes))
        wanted.add(classes.index(name))
    return wanted


