"""Which detection format a path holds, told by its layout, and the one entry point that reads any of them."""

from __future__ import annotations

from pathlib import Path

from torchworks.errors import DataError
from torchworks.tasks.object_detection.annotations import (
    DEFAULT_MAX_PIXELS,
    Collector,
    DetectionData,
)
from torchworks.tasks.object_detection.coco import (
    coco_split_files,
    read_coco_file,
    read_coco_folder,
)
from torchworks.tasks.object_detection.voc import is_voc_folder, read_voc
from torchworks.tasks.object_detection.yolo import read_yolo

LAYOUTS = ("a COCO JSON file (images, annotations, categories)",
           "a folder with annotations/instances_<split>.json beside the image folders (COCO)",
           "a YOLO data.yaml, or a folder holding one",
           "a Pascal VOC folder (Annotations/*.xml, ImageSets/Main, JPEGImages)")


def detect_layout(path: Path) -> tuple[str, Path]:
    """``(kind, path to read)`` with kind one of ``coco-file``, ``coco-folder``, ``yolo``, ``voc``."""
    if not path.exists():
        raise DataError(f"{path} does not exist", expected="; or ".join(LAYOUTS), got="no such file or folder")
    if path.is_file():
        if path.suffix.lower() == ".json":
            return "coco-file", path
        if path.suffix.lower() in (".yaml", ".yml"):
            return "yolo", path
    elif coco_split_files(path):
        return "coco-folder", path
    elif (path / "data.yaml").is_file() or (path / "data.yml").is_file():
        return "yolo", path / "data.yaml" if (path / "data.yaml").is_file() else path / "data.yml"
    elif is_voc_folder(path):
        return "voc", path
    else:
        nested = [child for child in sorted(path.iterdir()) if child.is_dir() and is_voc_folder(child)]
        yamls = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
        jsons = sorted(path.glob("*.json"))
        if len(nested) == 1:  # VOCdevkit/VOC2012
            return "voc", nested[0]
        if len(yamls) == 1:
            return "yolo", yamls[0]
        if len(jsons) == 1:
            return "coco-file", jsons[0]
    what = "file" if path.is_file() else "folder"
    raise DataError(f"{path}: not a detection data layout torchworks reads", expected="; or ".join(LAYOUTS),
                    got=f"a {what}" + (f" ending in {path.suffix}" if path.is_file() else " without any of these"),
                    hint="point data= at the annotation file or the dataset's root folder")


def read_detection_data(path: str | Path, *, bad_files: str = "skip", max_pixels: int = DEFAULT_MAX_PIXELS,
                        classes: list[str] | None = None) -> DetectionData:
    """Boxes and images from COCO, YOLO or Pascal VOC data, the format told by the layout of ``path``.

    Args:
        path: A COCO JSON file or COCO folder, a YOLO data.yaml or its folder, or a VOC folder.
        bad_files: ``skip`` leaves out (and records) images that are missing, unreadable or over
            ``max_pixels``; ``fail`` raises a DataError naming the first.
        max_pixels: Images with more pixels are refused, judged from the annotation or file header.
        classes: The class list to use (its order gives the labels); by default the declared classes.

    Raises:
        DataError: Unknown layout, malformed annotations (naming file and line or annotation id), an
            undeclared class, or no usable image.
    """
    kind, target = detect_layout(Path(path).expanduser())
    collector = Collector(bad_files, max_pixels)
    if kind == "coco-file":
        return read_coco_file(target, collector, classes)
    if kind == "coco-folder":
        return read_coco_folder(target, collector, classes)
    if kind == "yolo":
        return read_yolo(target, collector, classes)
    return read_voc(target, collector, classes)
