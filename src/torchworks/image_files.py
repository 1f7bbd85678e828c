"""Image files decoded the way every image task reads them: as stored (no EXIF rotation, because
annotations and masks are in the stored image's pixels), in RGB, refused unread when too large.

Every colour model becomes RGB: grey and 16-bit images are spread to three channels, transparency
(RGBA, LA, palette with a transparent index) is composited on white. A file that cannot be decoded or
is truncated raises :class:`~torchworks.errors.DataError` naming it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PIL import Image

from torchworks.errors import DataError
from torchworks.pixels import flatten_pixels
from torchworks.uploads import Upload

DEFAULT_MAX_PIXELS = 60_000_000  # larger images are refused before their pixels are decoded


def decode_rgb(source: Any, max_pixels: int = DEFAULT_MAX_PIXELS, name: str | None = None) -> Image.Image:
    """The image ``source`` (a path, an :class:`~torchworks.uploads.Upload` or a PIL image) fully decoded,
    as stored (no EXIF rotation), in RGB. ``name`` is how messages call it (the path by default).

    Raises:
        DataError: Missing, not an image, truncated, or over ``max_pixels`` (checked before decoding).
    """
    name = str(source) if name is None else name
    with errors_naming(name), open_picture(source) as opened:
        refuse_too_large(opened, max_pixels, name, hint="raise max_pixels=, shrink the image, or predict on it "
                         "with tile=")
        opened.load()
        return flatten_pixels(opened, keep_gray=False)


@contextmanager
def errors_naming(name: str, what: str = "image", expected: str = "a readable image file") -> Iterator[None]:
    """Turn what the file system or a decoder raises inside the block into a DataError naming ``name`` (the
    ``what`` it is); a DataError passes as it is."""
    try:
        yield
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{what} '{name}' does not exist", expected=f"the {what} file named", got="no such file",
                        hint="restore the file, or use bad_files=skip") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise DataError(f"cannot read {what} '{name}'", expected=expected, got=decoder_complaint(error),
                        hint="fix or remove that file") from None


def refuse_too_large(opened: Image.Image, max_pixels: int, name: str, what: str = "image",
                     hint: str = "raise max_pixels=") -> None:
    """Raise DataError when the opened (not yet decoded) picture has more than ``max_pixels`` pixels."""
    width, height = opened.size
    if width * height > max_pixels:
        raise DataError(f"{what} '{name}' is too large", expected=f"at most max_pixels={max_pixels:,} pixels",
                        got=f"{width}x{height}", hint=hint)


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
