"""YOLO data: a ``data.yaml`` naming the splits and classes, one ``labels/<image>.txt`` per image.

``train``/``val``/``test`` are folders of images, ``.txt`` lists of image paths, or lists of either;
relative paths count from ``path:`` (itself relative to the yaml's folder) or else from the yaml's folder.
Each image's labels are found by swapping its last ``images`` folder for ``labels`` and its suffix for
``.txt``; an image without a label file is a negative. A label line is ``class cx cy w h`` normalised to
0..1 (a polygon ``class x1 y1 x2 y2 x3 y3 ...`` counts as its bounding box).
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from torchworks.errors import DataError
from torchworks.tasks.object_detection.annotations import (
    Collector,
    DetectionData,
    DetectionImage,
    display,
    relabel,
    remap_classes,
)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
SPLITS = ("train", "val", "test")
LINE_FORM = "'class cx cy w h' with a class id and four numbers normalised to 0..1"


def read_yolo(yaml_path: Path, collector: Collector, classes: list[str] | None = None) -> DetectionData:
    """All splits ``yaml_path`` names, read as pre-split."""
    config = _load_yaml(yaml_path)
    native = _names(config, yaml_path)
    names, mapping = remap_classes(native, classes, str(yaml_path))
    base = yaml_path.parent
    if config.get("path"):
        base = (base / str(config["path"])).resolve() if not Path(str(config["path"])).is_absolute() \
            else Path(str(config["path"]))
    splits: dict[str, list[DetectionImage]] = {}
    for split in SPLITS:
        entry = config.get(split)
        if entry in (None, "", []):
            continue
        paths = _split_images(entry, base, yaml_path, split)
        images = [_read_image(path, base, len(native), collector, yaml_path) for path in paths]
        splits[split] = relabel([image for image in images if image is not None], mapping)
    if "train" not in splits:
        raise DataError(f"{yaml_path} names no train split", expected="'train: <folder or list of images>'",
                        got=f"keys {sorted(config)}")
    return collector.finish(names, splits, "YOLO", str(yaml_path))


def label_path(image: Path) -> Path:
    """``.../images/a/b.jpg`` -> ``.../labels/a/b.txt`` (the last ``images`` folder), else beside the image."""
    parts = list(image.parts)
    for index in range(len(parts) - 2, -1, -1):
        if parts[index] == "images":
            parts[index] = "labels"
            return Path(*parts).with_suffix(".txt")
    return image.with_suffix(".txt")


def parse_label_line(line: str, number: int, where: str, n_classes: int) -> tuple[int, list[float]] | None:
    """``(class, [cx, cy, w, h])`` from one label line (None for a blank line); a DataError naming
    ``where`` and the line number when it is malformed or its class is not declared."""
    fields = line.split()
    if not fields:
        return None
    at = f"{where} line {number}"
    values = []
    for field in fields:
        try:
            values.append(float(field))
        except ValueError:
            raise DataError(f"{at} holds a value that is not a number", expected=LINE_FORM,
                            got=repr(line.strip()[:80])) from None
    if not all(math.isfinite(v) for v in values):
        raise DataError(f"{at} holds a value that is not finite", expected=LINE_FORM, got=repr(line.strip()[:80]))
    if len(values) != 5 and not (len(values) >= 7 and len(values) % 2 == 1):
        raise DataError(f"{at} has {len(values)} values", expected=LINE_FORM, got=repr(line.strip()[:80]),
                        hint="each box is one line of five values; a polygon is a class and three or more x y pairs")
    cls = values[0]
    if not cls.is_integer() or not 0 <= cls < n_classes:
        raise DataError(f"{at}: class {fields[0]} is not declared",
                        expected=f"a class id 0..{n_classes - 1} ({n_classes} names in data.yaml)", got=fields[0],
                        hint="add the class to names: in data.yaml or fix the label")
    if len(values) == 5:
        return int(cls), values[1:]
    xs, ys = values[1::2], values[2::2]
    return int(cls), [(min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2, max(xs) - min(xs), max(ys) - min(ys)]


def _read_image(path: Path, base: Path, n_classes: int, collector: Collector,
                yaml_path: Path) -> DetectionImage | None:
    size = collector.size(path, display(path, base), yaml_path.name)
    if size is None:
        return None
    width, height = size
    labels_file = label_path(path)
    name = display(labels_file, base)
    boxes, labels, refs = [], [], []
    if labels_file.is_file():
        try:
            text = labels_file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise DataError(f"{name} is not a text file", expected=f"lines of {LINE_FORM}",
                            got="binary data") from None
        for number, line in enumerate(text.splitlines(), start=1):
            parsed = parse_label_line(line, number, name, n_classes)
            if parsed is None:
                continue
            cls, (cx, cy, w, h) = parsed
            boxes.append([(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height])
            labels.append(cls)
            refs.append(f"{name} line {number}")
    return collector.image(path, width, height, boxes, labels, [False] * len(labels), refs, name)


def _load_yaml(path: Path) -> dict:
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        line = getattr(getattr(error, "problem_mark", None), "line", None)
        where = f"{path} line {line + 1}" if line is not None else str(path)
        raise DataError(f"{where} is not valid YAML", expected="a YOLO data.yaml",
                        got=str(getattr(error, "problem", error))) from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a text file", expected="a YOLO data.yaml", got="binary data") from None
    if not isinstance(config, dict) or "names" not in config:
        got = f"keys {sorted(map(str, config))}" if isinstance(config, dict) else type(config).__name__
        raise DataError(f"{path} is not a YOLO data.yaml", expected="the keys 'train', 'val' and 'names'", got=got)
    return config


def _names(config: dict, path: Path) -> list[str]:
    names = config["names"]
    if isinstance(names, dict):
        if not all(isinstance(key, int) for key in names) or sorted(names) != list(range(len(names))):
            raise DataError(f"{path}: names: has keys that are not the ids 0..{len(names) - 1}",
                            expected="names as a list, or a mapping {0: name, 1: name, ...}",
                            got=str(sorted(names, key=str)))
        names = [names[key] for key in range(len(names))]
    if not isinstance(names, list) or not names:
        raise DataError(f"{path}: names: is not a list of class names", expected="names: [car, person, ...]",
                        got=repr(names)[:80])
    names = [str(name) for name in names]
    if len(set(names)) != len(names):
        raise DataError(f"{path}: names: lists a class twice", expected="distinct class names", got=str(names))
    if "nc" in config and config["nc"] != len(names):
        raise DataError(f"{path}: nc: does not match names:", expected=f"nc: {len(names)}", got=f"nc: {config['nc']}")
    return names


def _split_images(entry: object, base: Path, yaml_path: Path, split: str) -> list[Path]:
    """The image files one split names: folders (searched recursively), .txt lists, or image files."""
    entries = entry if isinstance(entry, list) else [entry]
    found: list[Path] = []
    for item in entries:
        path = Path(str(item))
        path = path if path.is_absolute() else base / path
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()))
        elif path.is_file() and path.suffix.lower() == ".txt":
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    listed = Path(line.strip())
                    if not listed.is_absolute():
                        beside = path.parent / listed
                        listed = beside if line.strip().startswith("./") or beside.exists() else base / listed
                    found.append(listed)
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            found.append(path)
        else:
            raise DataError(f"{yaml_path}: {split}: {item} does not exist",
                            expected="a folder of images or a .txt list of image paths",
                            got=f"nothing at {path}", hint="paths count from path: or from the yaml's folder")
    return found
