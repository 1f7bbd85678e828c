"""Pascal VOC: ``Annotations/<id>.xml``, ``ImageSets/Main/<split>.txt`` and ``JPEGImages/``.

Splits come from ``train.txt``/``val.txt``/``test.txt`` (``trainval.txt`` stands in for train when there is
no train.txt); without ``ImageSets/Main`` every annotation file forms one unsplit list. Class names are
the sorted names found in the XML, or the ``classes`` given. VOC pixel indices start at 1: a box
``xmin ymin xmax ymax`` covers ``xmin-1 .. xmax`` in 0-based pixel edges. ``difficult`` objects are kept
with the ignore flag (``iscrowd``) that evaluation skips.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from torchworks.errors import DataError
from torchworks.tasks.object_detection.annotations import (
    Collector,
    DetectionData,
    DetectionImage,
    display,
)

SPLIT_FILES = {"train": ("train", "trainval"), "val": ("val",), "test": ("test",)}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".JPG", ".JPEG", ".PNG")


@dataclass
class VocObject:
    name: str
    box: list[float]
    difficult: bool
    line: int


@dataclass
class VocFile:
    path: Path
    filename: str
    width: int | None
    height: int | None
    objects: list[VocObject]


def is_voc_folder(folder: Path) -> bool:
    return (folder / "Annotations").is_dir() and any((folder / "Annotations").glob("*.xml"))


def read_voc(folder: Path, collector: Collector, classes: list[str] | None = None) -> DetectionData:
    """A VOC folder; pre-split when ``ImageSets/Main`` has split lists."""
    ids_by_split = _split_ids(folder)
    parsed = {path.stem: parse_voc_xml(path, folder)
              for path in sorted((folder / "Annotations").glob("*.xml"))}
    if classes is None:
        names = sorted({obj.name for item in parsed.values() for obj in item.objects})
    else:
        names = list(classes)
        for item in parsed.values():
            for obj in item.objects:
                if obj.name not in names:
                    raise DataError(f"{display(item.path, folder)} line {obj.line}: class '{obj.name}' is not declared",
                                    expected=f"one of classes={names}", got=repr(obj.name),
                                    hint="add it to classes= or leave classes= out to use every name in the XML")
    label_of = {name: index for index, name in enumerate(names)}
    splits: dict[str, list[DetectionImage]] = {}
    for split, ids in ids_by_split.items():
        images = []
        for image_id, where in ids:
            if image_id not in parsed:
                raise DataError(f"{where} names '{image_id}' but Annotations/{image_id}.xml does not exist",
                                expected="an annotation file for every listed id", got="no such file")
            image = _image(parsed[image_id], folder, label_of, collector)
            if image is not None:
                images.append(image)
        splits[split] = images
    return collector.finish(names, splits, "Pascal VOC", str(folder))


def parse_voc_xml(path: Path, root: Path) -> VocFile:
    """One annotation file; a DataError naming the file and line when it is malformed."""
    name = display(path, root)
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        tree = ET.fromstring(text)
    except ET.ParseError as error:
        line = error.position[0]
        raise DataError(f"{name} line {line} is not valid XML", expected="a Pascal VOC annotation",
                        got=str(error).split(":")[0]) from None
    if tree.tag != "annotation":
        raise DataError(f"{name} is not a Pascal VOC annotation", expected="an <annotation> root element",
                        got=f"<{tree.tag}>")
    # ElementTree keeps no line numbers: the n-th <object> element is the n-th "<object" tag in the text
    object_lines = [text.count("\n", 0, match.start()) + 1 for match in re.finditer(r"<object[\s>]", text)]
    objects = []
    for index, element in enumerate(tree.findall("object")):
        line = object_lines[index] if index < len(object_lines) else 0
        at = f"{name} line {line}"
        obj_name = (element.findtext("name") or "").strip()
        if not obj_name:
            raise DataError(f"{at}: an <object> has no <name>", expected="<name>class</name>", got="none")
        box = element.find("bndbox")
        try:
            values = [float(box.findtext(key)) for key in ("xmin", "ymin", "xmax", "ymax")]
        except (AttributeError, TypeError, ValueError):
            raise DataError(f"{at}: <bndbox> is not four numbers",
                            expected="<bndbox> with <xmin>, <ymin>, <xmax>, <ymax> in pixels",
                            got=", ".join(f"{key}={box.findtext(key)!r}" for key in ("xmin", "ymin", "xmax", "ymax"))
                            if box is not None else "no <bndbox>") from None
        difficult = (element.findtext("difficult") or "0").strip() not in ("0", "", "false")
        objects.append(VocObject(obj_name, [values[0] - 1, values[1] - 1, values[2], values[3]], difficult, line))
    return VocFile(path=path, filename=(tree.findtext("filename") or "").strip(),
                   width=_int(tree.findtext("size/width")), height=_int(tree.findtext("size/height")),
                   objects=objects)


def _image(item: VocFile, folder: Path, label_of: dict[str, int], collector: Collector) -> DetectionImage | None:
    images = folder / "JPEGImages"
    candidates = ([images / item.filename] if item.filename else []) + \
        [images / f"{item.path.stem}{suffix}" for suffix in IMAGE_SUFFIXES]
    path = next((c for c in candidates if c.is_file()), candidates[0])
    name = display(item.path, folder)
    size = collector.size(path, display(path, folder), name, item.width, item.height)
    if size is None:
        return None
    return collector.image(path, *size, [obj.box for obj in item.objects],
                           [label_of[obj.name] for obj in item.objects], [obj.difficult for obj in item.objects],
                           [f"{name} line {obj.line}" for obj in item.objects], name)


def _split_ids(folder: Path) -> dict[str, list[tuple[str, str]]]:
    """Image ids by split, each with the list file and line it came from; ``all`` when there are no lists."""
    main = folder / "ImageSets" / "Main"
    found: dict[str, list[tuple[str, str]]] = {}
    for split, stems in SPLIT_FILES.items():
        for stem in stems:
            path = main / f"{stem}.txt"
            if path.is_file():
                found[split] = [(line.split()[0], f"{display(path, folder)} line {number}")
                                for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                                if line.strip()]
                break
    if not found:
        found["all"] = [(path.stem, display(path, folder)) for path in sorted((folder / "Annotations").glob("*.xml"))]
    return found


def _int(text: str | None) -> int | None:
    try:
        value = int(float(text)) if text else None
    except ValueError:
        return None
    return value if value and value > 0 else None
