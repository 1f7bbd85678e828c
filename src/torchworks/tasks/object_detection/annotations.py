"""The common in-memory form of detection data, whatever format it was read from.

Boxes are ``x1 y1 x2 y2`` in pixels of the image as stored (no EXIF rotation), labels are contiguous
class indices into ``DetectionData.classes``. :class:`Collector` applies the rules every reader shares:
a missing or oversized image follows ``bad_files``, a box reaching outside its image is clipped and
counted, a box with no area left is dropped and named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from torchworks.errors import DataError
from torchworks.image_files import DEFAULT_MAX_PIXELS

BAD_FILES = ("skip", "fail")
CLIP_TOLERANCE = 1e-3  # pixels a box may stick out (float rounding of normalised coordinates) without counting


@dataclass
class DetectionImage:
    """One image and its boxes. ``iscrowd`` marks crowd regions (COCO) and ``difficult`` objects (VOC):
    boxes that evaluation ignores rather than counts as misses."""

    path: Path
    width: int
    height: int
    boxes: np.ndarray  # N x 4 float32, xyxy pixels
    labels: np.ndarray  # N int64
    iscrowd: np.ndarray  # N bool
    source: str  # the annotation file the boxes came from

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class DetectionData:
    """Images by split (``train``/``val``/``test`` when the data came split, else one list under ``all``)
    plus what reading had to skip, clip or drop."""

    classes: list[str]
    splits: dict[str, list[DetectionImage]]
    format: str
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    clipped: int = 0
    dropped: list[str] = field(default_factory=list)  # "file line N: reason" or "file annotation id N: reason"

    @property
    def presplit(self) -> bool:
        return "all" not in self.splits

    @property
    def images(self) -> list[DetectionImage]:
        return [image for split in self.splits.values() for image in split]

    def summary(self) -> str:
        """One line: counts of images, boxes, negatives, and of what was skipped, clipped or dropped."""
        images = self.images
        boxes = sum(len(image) for image in images)
        negatives = sum(1 for image in images if len(image) == 0)
        splits = ", ".join(f"{name} {len(items)}" for name, items in self.splits.items())
        text = (f"{self.format}: {len(images)} images ({splits}), {boxes} boxes, {len(self.classes)} classes, "
                f"{negatives} images without boxes")
        if self.skipped or self.clipped or self.dropped:
            text += f"; skipped {len(self.skipped)} images, clipped {self.clipped} boxes, dropped {len(self.dropped)}"
        return text


def display(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when it lies under it (shorter messages), else in full."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


class Collector:
    """Checks images and boxes against the shared rules, and keeps the record of what it skipped."""

    def __init__(self, bad_files: str = "skip", max_pixels: int = DEFAULT_MAX_PIXELS):
        if bad_files not in BAD_FILES:
            raise DataError("bad_files has an unknown value", expected="skip or fail", got=repr(bad_files))
        self.bad_files = bad_files
        self.max_pixels = max_pixels
        self.skipped: list[tuple[str, str]] = []
        self.clipped = 0
        self.dropped: list[str] = []

    def refuse(self, name: str, reason: str, named_in: str) -> None:
        """Skip the image (recorded) or, with ``bad_files=fail``, raise a DataError naming it."""
        if self.bad_files == "fail":
            raise DataError(f"image {name} named in {named_in} cannot be used", expected="a readable image",
                            got=reason, hint="fix or remove the image, or set bad_files=skip to leave it out")
        self.skipped.append((name, reason))

    def size(self, path: Path, name: str, named_in: str, width: object = None,
             height: object = None) -> tuple[int, int] | None:
        """The image's size, from the annotation when it gives one, else from the file's header (nothing
        is decoded); None when the image is missing, unreadable or over ``max_pixels`` and was skipped."""
        if not path.is_file():
            self.refuse(name, "missing on disk", named_in)
            return None
        if not (_positive_int(width) and _positive_int(height)):
            try:
                with Image.open(path) as image:
                    width, height = image.size
            except Image.DecompressionBombError:
                self.refuse(name, "too many pixels to open", named_in)
                return None
            except OSError as error:
                self.refuse(name, f"not a readable image ({error.__class__.__name__})", named_in)
                return None
        width, height = int(width), int(height)
        if width * height > self.max_pixels:
            self.refuse(name, f"{width}x{height} = {width * height:,} pixels exceeds max_pixels={self.max_pixels:,}",
                        named_in)
            return None
        return width, height

    def image(self, path: Path, width: int, height: int, boxes: list[list[float]], labels: list[int],
              crowd: list[bool], refs: list[str], source: str) -> DetectionImage:
        """A :class:`DetectionImage` from raw xyxy boxes: clipped to the image (counted) and those left
        without area dropped (named by their ``refs``, e.g. ``labels/a.txt line 3``)."""
        raw = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        clipped = raw.copy()
        clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, width)
        clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, height)
        moved = np.abs(clipped - raw).max(axis=1, initial=0) > CLIP_TOLERANCE if len(raw) else np.zeros(0, bool)
        keep = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
        for index in np.flatnonzero(~keep):
            x1, y1, x2, y2 = raw[index]
            why = "outside the image" if moved[index] else "zero or negative width or height"
            self.dropped.append(f"{refs[index]}: box {_fmt(x1)},{_fmt(y1)},{_fmt(x2)},{_fmt(y2)} {why}")
        self.clipped += int((moved & keep).sum())
        return DetectionImage(
            path=path, width=width, height=height, boxes=clipped[keep].astype(np.float32).reshape(-1, 4),
            labels=np.asarray(labels, dtype=np.int64).reshape(-1)[keep],
            iscrowd=np.asarray(crowd, dtype=bool).reshape(-1)[keep], source=source)

    def finish(self, classes: list[str], splits: dict[str, list[DetectionImage]], fmt: str,
               where: str) -> DetectionData:
        """The result; a DataError when no image at all could be used."""
        data = DetectionData(classes=classes, splits=splits, format=fmt, skipped=self.skipped,
                             clipped=self.clipped, dropped=self.dropped)
        if not data.images:
            got = f"{len(self.skipped)} skipped, e.g. {self.skipped[0][0]} ({self.skipped[0][1]})" if self.skipped \
                else "none"
            raise DataError(f"no usable images in {where}", expected="at least one image on disk", got=got,
                            hint="check that the image files sit where the annotations say")
        return data


def remap_classes(native: list[str], classes: list[str] | None, where: str) -> tuple[list[str], list[int]]:
    """The class list to use and, for each native class index, its index in it. With ``classes`` given,
    every declared class must be one of them (a DataError naming ``where`` otherwise)."""
    if classes is None:
        return list(native), list(range(len(native)))
    missing = [name for name in native if name not in classes]
    if missing:
        raise DataError(f"{where} declares classes that are not in classes=", expected=f"one of {list(classes)}",
                        got=", ".join(repr(name) for name in missing),
                        hint="add them to classes= or leave classes= out to use the declared ones")
    return list(classes), [list(classes).index(name) for name in native]


def relabel(images: list[DetectionImage], mapping: list[int]) -> list[DetectionImage]:
    """Labels moved to the indices ``mapping`` gives (from :func:`remap_classes`), in place."""
    if mapping != list(range(len(mapping))):
        table = np.asarray(mapping, dtype=np.int64)
        for image in images:
            image.labels = table[image.labels]
    return images


def _positive_int(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 1 and float(value).is_integer()


def _fmt(value: float) -> str:
    return f"{value:g}"
