"""What to predict on: image files, folders of them, CSVs of image paths, uploads, PIL images and
numpy arrays. Images are decoded lazily, one at a time as batches are made: memory stays at a batch
whatever the number of files, and an unreadable image raises DataError naming it from the dataset,
so predict can write an error row for it and go on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from torchworks.bad_inputs import pass_over
from torchworks.errors import DataError
from torchworks.tasks.image_classification.data import eval_transform
from torchworks.tasks.image_classification.decoding import (
    IMAGE_SUFFIXES,
    BadImage,
    decode_image,
    is_image_file,
    resize_short_side,
)
from torchworks.uploads import Upload

Source = Path | Upload | Image.Image


class ImageInputs(torch.utils.data.Dataset):
    """Images to predict on, decoded when an item is asked for; a bad one raises DataError."""

    def __init__(self, sources: list[Source], names: list[str], state: dict[str, Any]):
        self.sources = sources
        self.names = names
        self.state = state
        self.transform = eval_transform(state)

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, index: int) -> torch.Tensor:
        try:
            image = decode_image(self.sources[index], self.state["max_pixels"])
        except BadImage as problem:
            raise DataError(f"cannot read image '{self.names[index]}'", expected="a readable image file",
                            got=str(problem), hint="fix or remove that file") from None
        pixels = resize_short_side(image.pixels, self.state["short_side"])
        return self.transform(Image.fromarray(pixels).convert(self.state["color_mode"]))


def image_inputs(inputs: Sequence[Any], state: dict[str, Any]) -> tuple[ImageInputs, list[str]]:
    """The images of ``inputs`` (nothing decoded yet) and one name per image."""
    sources: list[Source] = []
    names: list[str] = []
    for item in inputs:
        try:
            found = _expand(item)
        except DataError as error:
            pass_over(_name(item), error, len(names))
            continue
        for source, name in found:
            sources.append(source)
            names.append(name)
    if not names:
        raise DataError("nothing to predict", expected="image files, folders of images or a CSV of paths",
                        got="no images in the inputs given")
    return ImageInputs(sources, names, state), names


def _name(item: Any) -> str:
    if isinstance(item, Upload):
        return item.name
    if isinstance(item, np.ndarray):
        return f"<array {'x'.join(str(n) for n in item.shape)}>"
    return str(item) if isinstance(item, (str, Path)) else f"<{type(item).__name__}>"


def _expand(item: Any) -> list[tuple[Source, str]]:
    """One input -> ``(source, name)`` pairs: a file, every image in a folder, every path in a CSV,
    or an image in memory."""
    if isinstance(item, Image.Image):
        return [(item, f"<image {item.size[0]}x{item.size[1]}>")]
    if isinstance(item, np.ndarray):
        return [(array_image(item), _name(item))]
    if isinstance(item, Upload):
        return [(item, item.name)]
    if not isinstance(item, (str, Path)):
        raise DataError("cannot predict on this input", expected="an image file, a folder, a CSV of image paths, "
                        "a PIL image or an H x W (x C) uint8 array", got=type(item).__name__)
    path = Path(item).expanduser()
    if path.is_dir():
        return [(p, str(p)) for p in sorted(path.rglob("*")) if p.is_file() and is_image_file(p)]
    if path.suffix.lower() == ".csv" and path.is_file():
        return _listed(path)
    if not path.exists():
        raise DataError(f"input '{item}' does not exist", expected="an image file, a folder or a CSV of paths",
                        got="no such file or folder", hint="check the path")
    return [(path, str(path))]


def _listed(path: Path) -> list[tuple[Source, str]]:
    """The images a CSV lists (its ``path`` column, else its first), relative to the CSV's folder.
    A CSV whose column holds no image file names is not a list of images (a table of texts, say)."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise DataError(f"cannot read '{path}' as a CSV of image paths", expected="a CSV with a 'path' column",
                        got=str(error).splitlines()[0][:160] or type(error).__name__) from None
    if frame.columns.empty:
        raise DataError(f"'{path}' lists no images", expected="a CSV with a 'path' column of image files",
                        got="an empty file")
    column = "path" if "path" in frame.columns else frame.columns[0]
    values = [value.strip() for value in frame[column] if value.strip()]
    if not any(Path(value).suffix.lower() in IMAGE_SUFFIXES for value in values):
        shown = f"values such as '{values[0][:40]}'" if values else "no values"
        raise DataError(f"'{path}' lists no image files", expected="a CSV of image paths (a 'path' column of "
                        f"{', '.join(sorted(IMAGE_SUFFIXES))} files)", got=f"column '{column}' with {shown}",
                        hint="an image model predicts on images; give it image files, a folder or a CSV of paths")
    paths = [Path(value) if Path(value).is_absolute() else path.parent / value for value in values]
    return [(p, str(p)) for p in paths]


def array_image(array: np.ndarray) -> Image.Image:
    """An H x W (grey), H x W x 1, x 3 (RGB) or x 4 (RGBA) array as a PIL image: uint8, or floats in
    [0, 1] (scaled to 0-255).

    Raises:
        DataError: Another shape, dtype or range.
    """
    shape = "x".join(str(n) for n in array.shape)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)) or 0 in array.shape:
        raise DataError(f"an array of shape {shape} is not an image", expected="H x W (grey), H x W x 3 (RGB) or "
                        "H x W x 4 (RGBA)", got=shape, hint="a batch of images goes in as a list of arrays")
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise DataError(f"a float array of shape {shape} is not an image", expected="values in [0, 1] "
                            "(or a uint8 array, 0-255)", got=f"values from {array.min():g} to {array.max():g}")
        array = np.round(array * 255)
    elif array.dtype != np.uint8:
        if array.min() < 0 or array.max() > 255:
            raise DataError(f"an array of dtype {array.dtype} is not an image", expected="uint8 values (0-255)",
                            got=f"values from {array.min()} to {array.max()}")
    return Image.fromarray(np.ascontiguousarray(array.astype(np.uint8)))
