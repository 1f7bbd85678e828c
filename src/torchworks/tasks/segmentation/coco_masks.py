"""COCO instance annotations as semantic segmentation masks, rasterised with ``pycocotools.mask``.

Each image's mask starts as background (class 0) and its annotations are painted in the order the file
lists them, so a later annotation paints over an earlier one. Polygons and run-length encodings
(compressed or not) are read; ``iscrowd`` regions become :data:`CROWD`, a value no class has, which the
coder turns into the ignore index. Without a class map the classes are ``background`` followed by the
categories in id order; with one (or a trained model's), categories are matched to it by name. Image files
are looked for beside the JSON, then under ``images/``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from torchworks.errors import DataError
from torchworks.image_files import DEFAULT_MAX_PIXELS
from torchworks.tasks.segmentation.reading import BadFiles, SegmentationItem, display

CROWD = 65535  # painted for iscrowd regions; class indices stay far below it
BACKGROUND = "background"
EXPECTED = "a COCO JSON object with 'images', 'annotations' and 'categories', annotations with 'segmentation'"


@dataclass(frozen=True)
class CocoMask:
    """The annotations of one image, rasterised on demand (:meth:`render`): ``shapes`` holds
    ``(class index or CROWD, segmentation)`` in the file's order."""

    height: int
    width: int
    shapes: tuple[tuple[int, Any], ...]
    source: str

    def render(self) -> np.ndarray:
        """The mask ``[height, width]`` (uint16) of class indices, :data:`CROWD` in crowd regions."""
        from pycocotools import mask as coco_mask

        painted = np.zeros((self.height, self.width), dtype=np.uint16)
        for value, segmentation in self.shapes:
            painted[_decode(coco_mask, segmentation, self.height, self.width)] = value
        return painted


def _decode(coco_mask: Any, segmentation: Any, height: int, width: int) -> np.ndarray:
    if isinstance(segmentation, list):  # polygons: one or more [x1, y1, x2, y2, ...]
        rle = coco_mask.merge(coco_mask.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation["counts"], list):  # uncompressed RLE
        rle = coco_mask.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    return coco_mask.decode(rle).astype(bool)


def read_coco_masks(path: Path, bad: BadFiles, classes: list[str] | None = None,
                    max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[list[str], list[SegmentationItem]]:
    """The class names and the images of a COCO JSON file, each with its :class:`CocoMask`.

    Args:
        classes: Class names by index to map categories onto (by name); by default ``background`` and the
            categories in id order.

    Raises:
        DataError: Not COCO, an annotation without a usable segmentation or for an unknown image or category,
            an RLE of another size than its image, or a category not among ``classes`` (naming the file and
            annotation id).
    """
    name = path.name
    data = _load(path)
    index_of, names = _category_indices(data["categories"], classes, name)
    entries = _images(data["images"], name)
    shapes: dict[Any, list[tuple[int, Any, str]]] = {image_id: [] for image_id in entries}
    if data["annotations"] and not any(isinstance(ann, dict) and ann.get("segmentation")
                                       for ann in data["annotations"]):
        raise DataError(f"{name} has no segmentations", expected=EXPECTED, got="boxes only",
                        hint="export the annotations with their polygons or masks")
    for position, ann in enumerate(data["annotations"]):
        ref = f"{name} annotation " + (f"id {ann.get('id', '?')}" if isinstance(ann, dict) else f"#{position}")
        if not isinstance(ann, dict) or ann.get("image_id") not in shapes:
            raise DataError(f"{ref} refers to no image in 'images'", expected="an image_id from 'images'",
                            got=json.dumps(ann)[:120])
        if ann.get("category_id") not in index_of:
            raise DataError(f"{ref}: category_id {ann.get('category_id')!r} is not declared",
                            expected=f"one of the ids in 'categories' {sorted(index_of)}",
                            got=repr(ann.get("category_id")))
        segmentation = _segmentation(ann.get("segmentation"), ref)
        value = CROWD if ann.get("iscrowd") else index_of[ann["category_id"]]
        shapes[ann["image_id"]].append((value, segmentation, ref))
    return names, _items(path, entries, shapes, bad, max_pixels)


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise DataError(f"{path} line {error.lineno} is not valid JSON", expected=EXPECTED,
                        got=f"{error.msg} at column {error.colno}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a text file", expected=EXPECTED, got="binary data") from None
    if not isinstance(data, dict) or not {"images", "categories"} <= data.keys():
        got = f"keys {sorted(data)[:8]}" if isinstance(data, dict) else f"a JSON {type(data).__name__}"
        raise DataError(f"{path.name} is not a COCO file", expected=EXPECTED, got=got)
    data.setdefault("annotations", [])
    for key in ("images", "annotations", "categories"):
        if not isinstance(data[key], list):
            raise DataError(f"{path.name}: '{key}' is not a list", expected=EXPECTED, got=type(data[key]).__name__)
    return data


def _category_indices(categories: list, classes: list[str] | None, name: str) -> tuple[dict[int, int], list[str]]:
    found: list[tuple[int, str]] = []
    for entry in categories:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), int) or "name" not in entry:
            raise DataError(f"{name}: an entry of 'categories' lacks its id or name",
                            expected="{'id': <int>, 'name': <str>}", got=json.dumps(entry)[:120])
        found.append((entry["id"], str(entry["name"])))
    if len({cat_id for cat_id, _ in found}) != len(found):
        raise DataError(f"{name}: a category id appears twice", expected="unique category ids",
                        got=str([cat_id for cat_id, _ in found]))
    found.sort()
    if classes is None:
        # a category called background is class 0 itself rather than a second background
        classes = [BACKGROUND] + [cat for _, cat in found if cat != BACKGROUND]
    missing = [cat for _, cat in found if cat not in classes]
    if missing:
        raise DataError(f"{name} declares categories that are not classes", expected=f"one of {classes}",
                        got=", ".join(repr(cat) for cat in missing),
                        hint="add them to classes.yaml, or train a new model for these categories")
    return {cat_id: classes.index(cat) for cat_id, cat in found}, list(classes)


def _images(images: list, name: str) -> dict[Any, dict[str, Any]]:
    entries: dict[Any, dict[str, Any]] = {}
    for entry in images:
        if not isinstance(entry, dict) or "id" not in entry or not isinstance(entry.get("file_name"), str):
            raise DataError(f"{name}: an entry of 'images' lacks its id or file_name",
                            expected="{'id': ..., 'file_name': ..., 'width': ..., 'height': ...}",
                            got=json.dumps(entry)[:120])
        if entry["id"] in entries:
            raise DataError(f"{name}: image id {entry['id']} appears twice in 'images'", expected="unique image ids",
                            got=f"{entry['id']} twice")
        entries[entry["id"]] = entry
    return entries


def _segmentation(segmentation: Any, ref: str) -> Any:
    """The annotation's polygons or RLE after checking their shape (pycocotools would crash or misread)."""
    if isinstance(segmentation, list) and segmentation and all(
            isinstance(polygon, list) and len(polygon) >= 6 and len(polygon) % 2 == 0
            and all(_finite(v) for v in polygon) for polygon in segmentation):
        return segmentation
    if isinstance(segmentation, dict) and isinstance(segmentation.get("size"), list) and (
            isinstance(segmentation.get("counts"), (str, list))):
        return segmentation
    raise DataError(f"{ref} has no usable segmentation", expected="polygons [[x1, y1, x2, y2, x3, y3, ...]] or an "
                    "RLE {'size': [h, w], 'counts': ...}", got=json.dumps(segmentation)[:120],
                    hint="remove the annotation, or export it with its polygon or mask")


def _items(path: Path, entries: dict[Any, dict[str, Any]], shapes: dict[Any, list[tuple[int, Any, str]]],
           bad: BadFiles, max_pixels: int) -> list[SegmentationItem]:
    root = path.parent
    items = []
    for image_id, entry in entries.items():
        image = _locate(entry["file_name"], [root, root / "images"])
        label = display(image, root)
        size = bad.image_size(image, label, max_pixels)
        if size is None:
            continue
        given = (entry.get("width"), entry.get("height"))
        if given != (None, None) and given != size:
            raise DataError(f"image '{label}' is not the size {path.name} gives (image id {image_id})",
                            expected=f"{given[0]}x{given[1]}", got=f"{size[0]}x{size[1]}",
                            hint="fix width and height in the JSON, or re-export the annotations")
        for _, segmentation, ref in shapes[image_id]:
            if isinstance(segmentation, dict) and segmentation["size"] != [size[1], size[0]]:
                raise DataError(f"{ref}: the RLE is not the size of its image '{label}'",
                                expected=f"size [{size[1]}, {size[0]}] (height, width)",
                                got=f"size {segmentation['size']}")
        mask = CocoMask(size[1], size[0], tuple((value, segmentation) for value, segmentation, _ in shapes[image_id]),
                        f"{path.name} image id {image_id}")
        items.append(SegmentationItem(image, mask, size[0], size[1], label, mask.source))
    return items


def _locate(file_name: str, dirs: list[Path]) -> Path:
    candidates = [d / file_name for d in dirs] + [d / Path(file_name).name for d in dirs]
    return next((c for c in candidates if c.is_file()), candidates[0])


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
