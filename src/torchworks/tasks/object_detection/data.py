"""Read, split and wrap detection data for a run: the annotations in whatever format the layout says,
split by seed (or as the data came split), images decoded lazily with augmentation that moves the boxes."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from pathlib import Path
from typing import Any

from torchworks.console import say
from torchworks.datasets import sample_or_path
from torchworks.errors import DataError
from torchworks.tasks.object_detection.annotations import DetectionData, DetectionImage
from torchworks.tasks.object_detection.config import ObjectDetectionConfig
from torchworks.tasks.object_detection.dataset import DetectionDataset
from torchworks.tasks.object_detection.layout import read_detection_data
from torchworks.tasks.object_detection.models import architecture_of
from torchworks.tasks.object_detection.splitting import split_images
from torchworks.tasks.object_detection.transforms import eval_transform, train_transform
from torchworks.tasks.values import PreparedData

REPEAT_THRESHOLD = 0.1  # LVIS: classes in fewer than this share of training images are repeated
SHOWN = 20  # skipped images and dropped boxes named in the report


def prepare_detection_data(config: ObjectDetectionConfig, state: dict[str, Any] | None) -> PreparedData:
    """Read the annotations named by ``config.data``, split them and wrap them as datasets.

    Args:
        config: The run's settings.
        state: A bundle's state: its classes are kept (the data must not declare others).
    """
    source = sample_or_path(config.data)
    data = read_detection_data(source, bad_files=config.bad_files, max_pixels=config.max_pixels,
                               classes=state["labels"] if state else None)
    _say_what_reading_changed(data)
    splits = split_images(data, config.val_fraction, config.test_fraction, config.seed)
    empty = [name for name in ("val", "test") if not getattr(splits, name)]
    if empty:
        raise DataError(f"too few images to hold out a {' and a '.join(empty)} split",
                        expected="at least one image in each of train, val and test",
                        got=f"{len(data.images)} usable images: train {len(splits.train)}, val {len(splits.val)}, "
                        f"test {len(splits.test)}",
                        hint="add images (a few dozen at least), or raise val_fraction= / test_fraction=")
    if state is None:
        state = {"labels": list(data.classes), "image_size": config.image_size, "model": config.model,
                 "architecture": architecture_of(config.model),
                 "max_pixels": config.max_pixels, "data_format": data.format,
                 "train_boxes": dict(zip(data.classes, _box_counts(splits.train, len(data.classes))))}
    size = state["image_size"]
    augment = train_transform(size, color=config.color, zoom_out=config.zoom_out, iou_crop=config.iou_crop,
                              flip=config.hflip) if config.augment else eval_transform(size)
    datasets = {"train": DetectionDataset(splits.train, augment, max_pixels=state["max_pixels"]),
                "val": DetectionDataset(splits.val, eval_transform(size), max_pixels=state["max_pixels"]),
                "test": DetectionDataset(splits.test, eval_transform(size), max_pixels=state["max_pixels"])}
    weights = None
    if config.class_weights == "auto" or config.sampler == "repeat_factor":
        weights = repeat_factors(splits.train, len(state["labels"]))
    return PreparedData(train=datasets["train"], val=datasets["val"], test=datasets["test"], state=state,
                        summary=_summary(source, data, splits), fingerprint=_fingerprint(data.images),
                        sample_weights=weights)


def repeat_factors(images: list[DetectionImage], classes: int, threshold: float = REPEAT_THRESHOLD) -> list[float]:
    """LVIS repeat-factor sampling: a class in a share ``f`` of the images gets ``max(1, sqrt(threshold / f))``
    and an image the largest factor of its classes (1 for an image without boxes)."""
    present = Counter(int(label) for image in images for label in set(image.labels.tolist()))
    factor = [max(1.0, math.sqrt(threshold / (present[c] / len(images)))) if present[c] else 1.0
              for c in range(classes)]
    return [max((factor[int(label)] for label in image.labels), default=1.0) for image in images]


def _box_counts(images: list[DetectionImage], classes: int) -> list[int]:
    counts = Counter(int(label) for image in images for label, crowd in zip(image.labels, image.iscrowd)
                     if not crowd)
    return [counts.get(c, 0) for c in range(classes)]


def _say_what_reading_changed(data: DetectionData) -> None:
    if not data.images:
        raise DataError("no usable images in the detection data", expected="at least one readable image",
                        got=f"{len(data.skipped)} images skipped" + (f" (first: {data.skipped[0][0]}: "
                                                                     f"{data.skipped[0][1]})" if data.skipped else ""),
                        hint="check that the image paths in the annotations exist")
    if data.skipped:
        name, reason = data.skipped[0]
        say(f"[yellow]warning:[/yellow] skipped {_count(len(data.skipped), 'image')} (first: {name}: {reason}); "
            "bad_files=fail stops at the first instead")
    if data.clipped:
        say(f"[yellow]warning:[/yellow] clipped {_count(data.clipped, 'box')} that reached outside the image")
    if data.dropped:
        say(f"[yellow]warning:[/yellow] dropped {_count(len(data.dropped), 'box')} with no area "
            f"(first: {data.dropped[0]})")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "es" if noun.endswith("x") else "s")


def _summary(source: Path, data: DetectionData, splits: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {"source": str(source), "format": data.format, "classes": ", ".join(data.classes)}
    for name in ("train", "val", "test"):
        images = getattr(splits, name)
        summary[f"{name} images"] = len(images)
        summary[f"{name} boxes"] = sum(len(image) for image in images)
    summary["images without boxes"] = sum(1 for image in data.images if len(image) == 0)
    summary["skipped images"] = len(data.skipped)
    summary["clipped boxes"] = data.clipped
    summary["dropped boxes"] = len(data.dropped)
    summary.update({f"skipped: {name}": reason for name, reason in data.skipped[:SHOWN]})
    summary.update({f"dropped box {i + 1}": where for i, where in enumerate(data.dropped[:SHOWN])})
    return summary


def _fingerprint(images: list[DetectionImage]) -> str:
    digest = hashlib.sha256()
    for image in images:
        digest.update(f"{image.path}|{image.width}x{image.height}|".encode())
        digest.update(image.boxes.tobytes())
        digest.update(image.labels.tobytes())
    return digest.hexdigest()[:16]
