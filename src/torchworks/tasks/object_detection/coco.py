"""COCO detection JSON: one file (unsplit), or a folder in COCO's own layout (pre-split).

Categories are mapped to contiguous labels in category-id order; ``bbox`` is ``x y w h`` in pixels and
becomes ``x1 y1 x2 y2``. Image files are looked for beside the JSON (``file_name`` as written, then under
``images/``); in the folder layout under ``<split>/``, ``<split>2017/`` or ``images/<split>/`` first.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from torchworks.errors import DataError
from torchworks.tasks.object_detection.annotations import (
    Collector,
    DetectionData,
    DetectionImage,
    display,
    relabel,
    remap_classes,
)

EXPECTED_KEYS = "a JSON object with the keys 'images', 'annotations' and 'categories' (COCO detection format)"
SPLIT_FILE = re.compile(r"instances_(?P<split>[A-Za-z]+)(?P<year>\d{4})?\.json$")
SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


def coco_split_files(folder: Path) -> dict[str, Path]:
    """``annotations/instances_<split>.json`` files of a COCO folder, by split (train/val/test)."""
    found: dict[str, Path] = {}
    for path in sorted((folder / "annotations").glob("instances_*.json")):
        match = SPLIT_FILE.search(path.name)
        split = SPLIT_NAMES.get(match["split"].lower()) if match else None
        if split is not None and split not in found:
            found[split] = path
    return found


def read_coco_file(path: Path, collector: Collector, classes: list[str] | None = None) -> DetectionData:
    """A single COCO JSON file, unsplit (the caller splits it by seed)."""
    root = path.parent
    native, images = _read(path, [root, root / "images"], collector, root)
    names, mapping = remap_classes(native, classes, display(path, root))
    return collector.finish(names, {"all": relabel(images, mapping)}, "COCO", str(path))


def read_coco_folder(folder: Path, collector: Collector, classes: list[str] | None = None) -> DetectionData:
    """A folder with ``annotations/instances_<split>.json`` beside the image folders, read as pre-split."""
    files = coco_split_files(folder)
    if not files:
        raise DataError(f"no annotations/instances_<split>.json in {folder}",
                        expected="annotations/instances_train.json (and _val, _test) beside the image folders",
                        got="none")
    native: list[str] | None = None
    first = ""
    splits: dict[str, list[DetectionImage]] = {}
    for split, path in files.items():
        year = SPLIT_FILE.search(path.name)["year"] or "2017"
        dirs = [folder / split, folder / f"{split}{year}", folder / "images" / split, folder / "images", folder]
        names, images = _read(path, dirs, collector, folder)
        if native is None:
            native, first = names, display(path, folder)
        elif names != native:
            raise DataError(f"{display(path, folder)} declares other categories than {first}",
                            expected=f"the same categories in every split: {native}", got=str(names))
        splits[split] = images
    names, mapping = remap_classes(native or [], classes, first)
    return collector.finish(names, {split: relabel(items, mapping) for split, items in splits.items()},
                            "COCO", str(folder))


def load_json(path: Path) -> object:
    """Parsed JSON, or a DataError naming the file, line and column of a syntax error."""
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise DataError(f"{path} line {error.lineno} is not valid JSON", expected="a COCO detection JSON file",
                        got=f"{error.msg} at column {error.colno}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a text file", expected="a COCO detection JSON file (UTF-8)",
                        got="binary data") from None


def _read(path: Path, image_dirs: list[Path], collector: Collector,
          root: Path) -> tuple[list[str], list[DetectionImage]]:
    """Category names (in id order) and the images of one COCO file, labels in that order."""
    name = display(path, root)
    data = load_json(path)
    if not isinstance(data, dict) or not {"images", "categories"} <= data.keys() or \
            ("annotations" not in data and data.get("images")):
        got = f"keys {sorted(data)[:8]}" if isinstance(data, dict) else f"a JSON {type(data).__name__}"
        raise DataError(f"{name} is not a COCO detection file", expected=EXPECTED_KEYS, got=got,
                        hint="YOLO data is read from its data.yaml, Pascal VOC from its folder")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key, []), list):
            raise DataError(f"{name}: '{key}' is not a list", expected=EXPECTED_KEYS,
                            got=type(data[key]).__name__)

    categories = sorted(_categories(data["categories"], name), key=lambda item: item[0])
    label_of = {cat_id: label for label, (cat_id, _) in enumerate(categories)}
    class_names = [cat_name for _, cat_name in categories]

    by_image: dict[object, list[dict]] = {}
    for entry in data["images"]:
        if not isinstance(entry, dict) or "id" not in entry or not isinstance(entry.get("file_name"), str):
            raise DataError(f"{name}: an entry of 'images' lacks its id or file_name",
                            expected="{'id': ..., 'file_name': ..., 'width': ..., 'height': ...}",
                            got=json.dumps(entry)[:120])
        if entry["id"] in by_image:
            raise DataError(f"{name}: image id {entry['id']} appears twice in 'images'",
                            expected="unique image ids", got=f"{entry['id']} twice")
        by_image[entry["id"]] = []
    for index, ann in enumerate(data.get("annotations", [])):
        ref = f"{name} annotation id {ann.get('id', '?')}" if isinstance(ann, dict) else f"{name} annotation #{index}"
        if not isinstance(ann, dict):
            raise DataError(f"{ref} is not an object", expected="{'image_id', 'category_id', 'bbox'}",
                            got=json.dumps(ann)[:120])
        if ann.get("image_id") not in by_image:
            raise DataError(f"{ref} refers to an image that is not in 'images'", expected="an id from 'images'",
                            got=f"image_id {ann.get('image_id')!r}")
        if ann.get("category_id") not in label_of:
            raise DataError(f"{ref}: category_id {ann.get('category_id')!r} is not declared",
                            expected=f"one of the ids in 'categories' {sorted(label_of)}",
                            got=repr(ann.get("category_id")), hint="add the category or fix the annotation")
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_finite(v) for v in bbox)):
            raise DataError(f"{ref}: bbox is not four numbers", expected="[x, y, width, height] in pixels",
                            got=json.dumps(bbox)[:80])
        by_image[ann["image_id"]].append({**ann, "_ref": ref})

    images: list[DetectionImage] = []
    for entry in data["images"]:
        file_name = entry["file_name"]
        image_path = _locate(file_name, image_dirs)
        size = collector.size(image_path, display(image_path, root), name, entry.get("width"), entry.get("height"))
        if size is None:
            continue
        anns = by_image[entry["id"]]
        boxes = [[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]] for a in anns]
        images.append(collector.image(
            image_path, *size, boxes, [label_of[a["category_id"]] for a in anns],
            [bool(a.get("iscrowd", 0)) for a in anns], [a["_ref"] for a in anns], name))
    return class_names, images


def _categories(entries: list, name: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), int) or "name" not in entry:
            raise DataError(f"{name}: an entry of 'categories' lacks its id or name",
                            expected="{'id': <int>, 'name': <str>}", got=json.dumps(entry)[:120])
        found.append((entry["id"], str(entry["name"])))
    ids = [cat_id for cat_id, _ in found]
    if len(set(ids)) != len(ids):
        raise DataError(f"{name}: a category id appears twice", expected="unique category ids", got=str(ids))
    if not found:
        raise DataError(f"{name} declares no categories", expected="at least one entry in 'categories'", got="[]")
    return found


def _locate(file_name: str, dirs: list[Path]) -> Path:
    """The first existing ``dir/file_name`` (then by base name), or the first candidate when none exists."""
    candidates = [d / file_name for d in dirs] + [d / Path(file_name).name for d in dirs]
    return next((c for c in candidates if c.is_file()), candidates[0])


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

