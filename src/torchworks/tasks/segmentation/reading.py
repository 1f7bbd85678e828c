"""Segmentation data on disk: which layout a path holds, the image and mask pairs it lists, and masks
decoded into the values they store.

Layouts: a folder with ``images/`` and ``masks/`` paired by file stem (pre-split when both hold
``train``/``val``/``test`` folders), or a CSV with ``image,mask`` columns and an optional ``split`` column.
COCO JSON files are read by :mod:`~torchworks.tasks.segmentation.coco_masks`. An image is sized from its
header only; a missing or unreadable file, or one over ``max_pixels``, follows ``bad_files``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from torchworks.errors import DataError
from torchworks.image_files import DEFAULT_MAX_PIXELS, errors_naming, picture_size, refuse_too_large
from torchworks.progress import track
from torchworks.tasks.segmentation.classes import colour_code

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
MASK_SUFFIXES = (".png", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".jpg", ".jpeg")  # first found wins
SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
               "test": "test", "testing": "test"}
CLASS_FILES = ("classes.yaml", "classes.yml")
LAYOUTS = ("a folder with images/ and masks/ (same file stems; optionally images/train|val|test and "
           "masks/train|val|test)", "a CSV with image,mask columns (and optionally split)",
           "a COCO JSON file with segmentations")
BAD_FILES = ("skip", "fail")
PROGRESS_FROM = 200  # masks: a progress bar when there are more than this many to read


class DrawnMask(Protocol):
    """A mask drawn from annotations rather than stored as a file (a COCO image's, see ``coco_masks``)."""

    def render(self) -> np.ndarray:
        """The mask ``[height, width]`` of stored values."""


@dataclass(frozen=True)
class SegmentationItem:
    """One image and where its mask comes from.

    Attributes:
        image: The image file.
        mask: The mask file, or a mask drawn from annotations (a COCO image's
            :class:`~torchworks.tasks.segmentation.coco_masks.CocoMask`).
        width: The image's width from its header (pixels, as stored).
        height: Its height.
        name: A short name for reports (the image's path below the data's root).
        mask_name: How messages name the mask (its path below the root, or the COCO file and image id).
        split: The split the data gave it (train, val or test), or None.
    """

    image: Path
    mask: Path | DrawnMask
    width: int
    height: int
    name: str
    mask_name: str
    split: str | None = None


@dataclass
class BadFiles:
    """What ``bad_files`` says to do with a missing or unreadable file: ``skip`` (recorded) or ``fail``."""

    policy: str = "skip"
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.policy not in BAD_FILES:
            raise DataError("bad_files has an unknown value", expected="skip or fail", got=repr(self.policy))

    def refuse(self, name: str, reason: str, error: DataError | None = None) -> None:
        """Skip ``name`` (recorded with ``reason``) or, with ``bad_files=fail``, raise ``error`` (or a DataError
        naming it)."""
        if self.policy == "fail":
            if error is not None:
                raise error
            raise DataError(f"'{name}' cannot be used", expected="a readable image with its mask", got=reason,
                            hint="fix or remove the file, or set bad_files=skip to leave it out")
        self.skipped.append((name, reason))

    def image_size(self, path: Path, name: str, max_pixels: int) -> tuple[int, int] | None:
        """``(width, height)`` from the image's header, or None when it was refused (missing, unreadable, or
        over ``max_pixels``: refused without decoding its pixels)."""
        if not path.is_file():
            self.refuse(name, "image missing on disk")
            return None
        try:
            width, height = picture_size(path, name)
        except DataError as error:
            self.refuse(name, f"not a readable image ({error.got})", error)
            return None
        if width * height > max_pixels:
            self.refuse(name, f"{width}x{height} = {width * height:,} pixels exceeds max_pixels={max_pixels:,}")
            return None
        return width, height


def display(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when it lies below it (shorter messages), else in full."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def detect_layout(path: Path) -> tuple[str, Path]:
    """``(kind, path to read)``, kind one of ``folders``, ``csv``, ``coco``.

    Raises:
        DataError: The path is missing or holds none of the layouts (they are listed).
    """
    if not path.exists():
        raise DataError(f"{path} does not exist", expected="; or ".join(LAYOUTS), got="no such file or folder")
    if path.is_file():
        kind = {".csv": "csv", ".json": "coco"}.get(path.suffix.lower())
        if kind:
            return kind, path
        got = f"a file ending in {path.suffix or '(no suffix)'}"
    elif (path / "images").is_dir() and (path / "masks").is_dir():
        return "folders", path
    else:
        for kind, pattern in (("csv", "*.csv"), ("coco", "*.json")):
            found = sorted(path.glob(pattern))
            if len(found) == 1:
                return kind, found[0]
        children = sorted(child.name + ("/" if child.is_dir() else "") for child in path.iterdir())
        got = "a folder holding " + (", ".join(children[:6]) + (" ..." if len(children) > 6 else "") or "nothing")
    raise DataError(f"{path}: not a segmentation data layout torchworks reads", expected="; or ".join(LAYOUTS),
                    got=got, hint="point data= at the folder that holds images/ and masks/, at the CSV or at the "
                    "COCO JSON file")


def class_file_in(folder: Path) -> Path | None:
    """The ``classes.yaml`` (or ``.yml``) in ``folder``, if there is one."""
    return next((folder / name for name in CLASS_FILES if (folder / name).is_file()), None)


def read_folders(root: Path, bad: BadFiles, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[list[SegmentationItem],
                                                                                             list[str]]:
    """The pairs of ``root/images`` and ``root/masks`` (matched by path without suffix), pre-split when
    ``images/`` holds train/val/test folders; and the masks that have no image (named, for the summary)."""
    images_dir, masks_dir = root / "images", root / "masks"
    split_dirs = {SPLIT_NAMES[child.name.lower()]: child.name for child in sorted(images_dir.iterdir())
                  if child.is_dir() and child.name.lower() in SPLIT_NAMES}
    groups = [(split, images_dir / split_dirs[split], masks_dir / split_dirs[split])
              for split in ("train", "val", "test") if split in split_dirs] or [(None, images_dir, masks_dir)]
    items: list[SegmentationItem] = []
    unpaired: list[str] = []
    for split, image_folder, mask_folder in groups:
        masks = _files_by_key(mask_folder, MASK_SUFFIXES)
        for key, image in _files_by_key(image_folder, IMAGE_SUFFIXES).items():
            name = display(image, images_dir)
            mask = masks.pop(key, None)
            if mask is None:
                bad.refuse(name, f"no mask masks/{display(mask_folder / key, masks_dir)}.png")
                continue
            size = bad.image_size(image, name, max_pixels)
            if size is not None:
                items.append(SegmentationItem(image, mask, size[0], size[1], name, display(mask, root), split))
        unpaired += [display(path, root) for path in masks.values()]
    if not items and not bad.skipped:
        raise DataError(f"no images in {images_dir}", expected=f"image files ({', '.join(IMAGE_SUFFIXES)}) with "
                        "masks of the same stem in masks/", got="none",
                        hint="put the images in images/ and their masks (PNG) in masks/")
    return items, unpaired


def _files_by_key(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    """Files below ``folder`` with one of ``suffixes``, by path without suffix; the earlier suffix wins."""
    if not folder.is_dir():
        return {}
    rank = {suffix: position for position, suffix in enumerate(suffixes)}
    found: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        suffix = path.suffix.lower()
        if suffix not in rank or not path.is_file() or path.name.startswith("."):
            continue
        key = path.relative_to(folder).with_suffix("").as_posix()
        if key not in found or rank[suffix] < rank[found[key].suffix.lower()]:
            found[key] = path
    return found


def read_csv_pairs(path: Path, bad: BadFiles, max_pixels: int = DEFAULT_MAX_PIXELS) -> list[SegmentationItem]:
    """The rows of a CSV with ``image`` and ``mask`` columns (paths relative to the CSV's folder) and an
    optional ``split`` column (train/val/test; an empty cell leaves the row to the seeded split).

    Raises:
        DataError: Not readable as CSV, a column missing, an empty cell or an unknown split (naming the row).
    """
    rows = _csv_rows(path)
    root = path.parent
    items: list[SegmentationItem] = []
    for line, row in rows:
        where = f"{path.name} row {line}"
        image_cell, mask_cell = (row.get("image") or "").strip(), (row.get("mask") or "").strip()
        if not image_cell or not mask_cell:
            raise DataError(f"{where} has an empty {'image' if not image_cell else 'mask'} cell",
                            expected="a path in both the image and the mask column", got=str(dict(row))[:120])
        split_cell = (row.get("split") or "").strip().lower()
        if split_cell and split_cell not in SPLIT_NAMES:
            raise DataError(f"{where} has an unknown split", expected="train, val or test (or empty)",
                            got=repr(row.get("split")))
        image, mask = root / image_cell, root / mask_cell
        if not mask.is_file():
            bad.refuse(image_cell, f"mask {mask_cell} missing on disk ({where})")
            continue
        size = bad.image_size(image, image_cell, max_pixels)
        if size is not None:
            items.append(SegmentationItem(image, mask, size[0], size[1], image_cell, mask_cell,
                                          SPLIT_NAMES.get(split_cell)))
    return items


def _csv_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [name.strip().lower() for name in reader.fieldnames or []]
            rows = [(reader.line_num, {key.strip().lower(): value for key, value in row.items()
                                       if isinstance(key, str) and isinstance(value, str)}) for row in reader]
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path} is not a readable CSV", expected="a UTF-8 CSV with image,mask columns",
                        got=error.__class__.__name__) from None
    missing = [name for name in ("image", "mask") if name not in columns]
    if missing:
        raise DataError(f"{path} lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
                        expected="a header with image and mask (and optionally split)",
                        got=f"columns {', '.join(columns) or 'none'}", hint="name the columns image,mask[,split]")
    if not rows:
        raise DataError(f"{path} has no rows", expected="one row per image and mask", got="a header only")
    return rows


@dataclass
class RawMask:
    """A mask as stored: ``values`` 2-D ints (index masks), or colour codes ``r << 16 | g << 8 | b`` when
    ``colour``; ``mode`` the PIL mode (``coco`` for rasterised annotations); ``palette`` the RGB colour of
    each index of a palette PNG."""

    values: np.ndarray
    colour: bool
    mode: str
    palette: list[tuple[int, int, int]] | None = None


def load_mask(source: Path | DrawnMask, name: str, *, max_pixels: int = DEFAULT_MAX_PIXELS,
              grey_rgb: bool = True) -> RawMask:
    """The stored values of a mask: a PNG (or TIFF...) of class values, a palette PNG (its indices), a binary
    PNG (mode 1 reads as 0/255) or an RGB colour PNG; or a COCO mask rasterised.

    Args:
        grey_rgb: Read an RGB mask whose three channels are equal everywhere as grey values (masks saved as
            RGB by some tools); False when the class map declares colours.

    Raises:
        DataError: Missing, unreadable, over ``max_pixels`` or holding floating point values (naming it).
    """
    if not isinstance(source, Path):
        return RawMask(source.render(), colour=False, mode="coco")
    with errors_naming(name, "mask", "a readable PNG mask"), Image.open(source) as opened:
        refuse_too_large(opened, max_pixels, name, "mask")
        opened.load()
        return _pixels(opened, name, grey_rgb)


def _pixels(opened: Image.Image, name: str, grey_rgb: bool) -> RawMask:
    mode = opened.mode
    if mode in ("P", "PA"):
        flat = opened.getpalette() or []
        palette = [tuple(flat[i:i + 3]) for i in range(0, len(flat) - 2, 3)]
        return RawMask(np.asarray(opened.getchannel(0)), False, "P", palette)  # type: ignore[arg-type]
    if mode == "1":
        return RawMask(np.asarray(opened, dtype=np.uint8) * 255, False, mode)
    if mode in ("L", "LA"):
        return RawMask(np.asarray(opened.getchannel(0)), False, mode)
    if mode.startswith("I;16") or mode == "I":
        return RawMask(np.asarray(opened).astype(np.int64 if mode == "I" else np.uint16), False, mode)
    if mode == "F":
        raise DataError(f"mask '{name}' holds floating point values", expected="integer class values or colours",
                        got="a 32-bit float image", hint="save masks as 8- or 16-bit PNGs of class values")
    rgb = np.asarray(opened.convert("RGB"))
    if grey_rgb and (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return RawMask(np.ascontiguousarray(rgb[..., 0]), False, mode)
    return RawMask(colour_code(rgb), True, mode)


def value_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of a mask and the pixels of each: bincount for 8- and 16-bit masks (several
    times faster than sorting), unique otherwise."""
    if values.dtype in (np.uint8, np.uint16) and values.size:
        counts = np.bincount(values.ravel())
        present = np.flatnonzero(counts)
        return present, counts[present]
    distinct, counts = np.unique(values, return_counts=True)
    return distinct.astype(np.int64), counts


@dataclass
class ScannedMask:
    """What one reading of a mask keeps: its distinct stored values (or colour codes) and their pixels."""

    values: np.ndarray
    counts: np.ndarray
    colour: bool
    mode: str


@dataclass
class Scan:
    """The items whose masks could be read, a :class:`ScannedMask` for each, and the first palette PNG's
    colours (for classes without a declared colour)."""

    items: list[SegmentationItem]
    masks: list[ScannedMask]
    palette: list[tuple[int, int, int]] | None = None

    @property
    def colour(self) -> bool:
        return any(mask.colour for mask in self.masks)


def scan_masks(items: list[SegmentationItem], bad: BadFiles, *, max_pixels: int = DEFAULT_MAX_PIXELS,
               grey_rgb: bool = True) -> Scan:
    """Read every mask once: its values and pixels per value, checked against its image's size.

    A mask that cannot be read follows ``bad_files`` (its image is left out when skipped).

    Raises:
        DataError: A mask of another size than its image (naming both and both sizes), or colour masks mixed
            with masks of class values.
    """
    scan = Scan([], [])
    first: dict[bool, str] = {}
    for item in track(items, "reading masks", total=len(items), enabled=len(items) > PROGRESS_FROM):
        try:
            raw = load_mask(item.mask, item.mask_name, max_pixels=max_pixels, grey_rgb=grey_rgb)
        except DataError as error:
            bad.refuse(item.name, f"mask {item.mask_name}: {error.got or error.what}", error)
            continue
        height, width = raw.values.shape
        if (width, height) != (item.width, item.height):
            raise size_mismatch(item, item.width, item.height, width, height)
        first.setdefault(raw.colour, item.mask_name)
        if scan.palette is None and raw.palette and any(len(set(rgb)) > 1 for rgb in raw.palette):
            scan.palette = raw.palette  # a grey ramp is Pillow's default palette, not the data's colours
        scan.items.append(item)
        scan.masks.append(ScannedMask(*value_counts(raw.values), raw.colour, raw.mode))
    if len(first) == 2:
        raise DataError("the masks mix colours and class values", expected="one kind: RGB colour masks, or masks "
                        "of class values (grey, 16-bit or palette PNGs)",
                        got=f"colours in '{first[True]}', class values in '{first[False]}'",
                        hint="convert the masks to one kind")
    return scan


def size_mismatch(item: SegmentationItem, image_width: int, image_height: int, mask_width: int,
                  mask_height: int) -> DataError:
    """The DataError for a mask whose size differs from its image's, naming both and both sizes."""
    swapped = (mask_width, mask_height) == (image_height, image_width) and mask_width != mask_height
    return DataError(f"mask '{item.mask_name}' is not the size of its image '{item.name}'",
                     expected=f"{image_width}x{image_height} (the image)", got=f"{mask_width}x{mask_height}",
                     hint="the image seems rotated by its EXIF orientation when the mask was drawn; save it rotated"
                     if swapped else "masks must have their image's width and height; re-export the mask")
