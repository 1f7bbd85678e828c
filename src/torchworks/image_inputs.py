"""What an image model predicts on, listed before anything is decoded: files, folders, CSVs of paths,
uploads, PIL images and numpy arrays, shared by the image tasks.

:func:`expand_input` turns one input into ``(source, name)`` pairs, a source being a path, an
:class:`~torchworks.uploads.Upload` or a PIL image; each task decodes them its own way (and decides
whether a folder also holds videos, say, by the suffixes it passes).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from torchworks.errors import DataError
from torchworks.uploads import Upload

Source = Path | Upload | Image.Image


def input_name(item: Any) -> str:
    """How an input is named in records and messages."""
    if isinstance(item, Upload):
        return item.name
    if isinstance(item, np.ndarray):
        return f"<array {'x'.join(str(n) for n in item.shape)}>"
    return str(item) if isinstance(item, (str, Path)) else f"<{type(item).__name__}>"


def expand_input(item: Any, suffixes: Collection[str], what: str = "an image file") -> list[tuple[Source, str]]:
    """One input -> ``(source, name)`` pairs: a file, every file in a folder (recursively) whose suffix
    is one of ``suffixes``, every path in a CSV, or an image in memory.

    Raises:
        DataError: A path that does not exist, a CSV that lists none of ``suffixes``, or an object of
            another type.
    """
    if isinstance(item, Image.Image):
        return [(item, f"<image {item.size[0]}x{item.size[1]}>")]
    if isinstance(item, np.ndarray):
        return [(array_image(item), input_name(item))]
    if isinstance(item, Upload):
        return [(item, item.name)]
    if not isinstance(item, (str, Path)):
        raise DataError("cannot predict on this input", expected=f"{what}, a folder, a CSV of paths, "
                        "a PIL image or an H x W (x C) uint8 array", got=type(item).__name__)
    path = Path(item).expanduser()
    if path.is_dir():
        return [(p, str(p)) for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")]
    if path.suffix.lower() == ".csv" and path.is_file():
        return listed_paths(path, suffixes)
    if not path.exists():
        raise DataError(f"input '{item}' does not exist", expected=f"{what}, a folder or a CSV of paths",
                        got="no such file or folder", hint="check the path")
    return [(path, str(path))]


def listed_paths(path: Path, suffixes: Collection[str]) -> list[tuple[Source, str]]:
    """The files a CSV lists (its ``path`` column, else its first), relative to the CSV's folder.
    A CSV whose column holds no file name with one of ``suffixes`` is not such a list (a table of
    texts, say)."""
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
    if not any(Path(value).suffix.lower() in suffixes for value in values):
        shown = f"values such as '{values[0][:40]}'" if values else "no values"
        raise DataError(f"'{path}' lists no image files", expected="a CSV of image paths (a 'path' column of "
                        f"{', '.join(sorted(suffixes))} files)", got=f"column '{column}' with {shown}",
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
