"""Datasets, transforms and ``prepare_data`` for image classification."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms import v2

from torchworks.errors import DataError
from torchworks.splitting import assign_splits
from torchworks.tasks.image_classification.config import ImageClassificationConfig
from torchworks.tasks.image_classification.decoding import decode_image, resize_short_side
from torchworks.tasks.image_classification.models import SMALL_CNN, chosen_model
from torchworks.tasks.image_classification.scanning import ScanResult, scan_images
from torchworks.tasks.image_classification.sources import find_labelled_files
from torchworks.tasks.protocol import PreparedData


class ImageDataset(Dataset):
    """Images (cached pixels or files) with integer labels, through a transform."""

    def __init__(self, paths: list[Path], targets: list[int], pixels: list[np.ndarray] | None,
                 transform: Any, state: dict[str, Any]):
        self.paths = paths
        self.targets = targets
        self.pixels = pixels
        self.transform = transform
        self.state = state

    def __len__(self) -> int:
        return len(self.paths)

    def raw(self, index: int) -> np.ndarray:
        """Pixels resized to the preprocessing short side, before augmentation or normalisation."""
        if self.pixels is not None:
            return self.pixels[index]
        image = decode_image(self.paths[index], self.state["max_pixels"])
        return resize_short_side(image.pixels, self.state["short_side"])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = Image.fromarray(self.raw(index)).convert(self.state["color_mode"])
        return self.transform(image), self.targets[index]


def eval_transform(state: dict[str, Any]) -> v2.Compose:
    """Resize the short side, centre-crop, scale to [0, 1], normalise."""
    return v2.Compose([
        v2.ToImage(),
        v2.Resize(state["short_side"], antialias=True),
        v2.CenterCrop(state["image_size"]),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(state["mean"], state["std"]),
    ])


def train_transform(state: dict[str, Any], config: ImageClassificationConfig) -> v2.Compose:
    """Random resized crop, flip and rotation, then the evaluation scaling and normalisation."""
    if not config.augment:
        return eval_transform(state)
    steps: list[Any] = [
        v2.ToImage(),
        v2.RandomResizedCrop(state["image_size"], scale=(config.scale_min, 1.0), antialias=True),
    ]
    if config.hflip > 0:
        steps.append(v2.RandomHorizontalFlip(config.hflip))
    if config.rotation > 0:
        steps.append(v2.RandomRotation(config.rotation))
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(state["mean"], state["std"])]
    return v2.Compose(steps)


def prepare_image_data(config: ImageClassificationConfig, state: dict[str, Any] | None,
                       normalization: tuple[list[float], list[float]] | None) -> PreparedData:
    """Find, decode-check, split and wrap the images.

    Args:
        config: The run's settings.
        state: A bundle's stored preprocessing state, reused as-is (labels, sizes, normalisation).
        normalization: Mean and std fixed by pretrained weights, else computed on the train split.
    """
    files, source = find_labelled_files(config.data)
    short_side = math.ceil(config.image_size / config.crop)
    scan = scan_images(files, short_side, config.max_pixels, config.bad_files, config.cache, config.progress)
    labels = state["labels"] if state else _check_classes(scan, source)
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({f.label for f in scan.files} - set(index))
    if unknown:
        raise DataError(f"data '{source}' has classes the model does not know", expected=", ".join(labels),
                        got=", ".join(unknown[:5]), hint="evaluate on data with the training classes")
    splits = assign_splits([f.label for f in scan.files], [f.split for f in scan.files],
                           config.val_fraction, config.test_fraction, config.seed)
    if state is None:
        architecture = chosen_model(config.model, config.pretrained, config.weights, splits.count("train"))[0]
        state = _fit_state(config, scan, splits, labels, short_side, normalization, architecture)
    return _wrap(config, scan, splits, index, state, source)


def _check_classes(scan: ScanResult, source: Path) -> list[str]:
    if not scan.files:
        raise DataError(f"no usable images in '{source}'", expected="at least two classes of readable images",
                        got=f"{len(scan.skipped)} unreadable files" if scan.skipped else "no image files",
                        hint="check the folder; supported: PNG, JPEG, BMP, GIF, TIFF, WebP")
    labels = sorted({f.label for f in scan.files})
    if len(labels) < 2:
        raise DataError(f"data '{source}' has a single class '{labels[0]}'", expected="at least two classes",
                        got="1 class", hint="add a folder (or CSV rows) for every other class")
    return labels


def _fit_state(config, scan: ScanResult, splits, labels, short_side, normalization, architecture: str) -> dict[str, Any]:
    color = "L" if all(scan.gray) and architecture == SMALL_CNN else "RGB"
    train_rows = [i for i, s in enumerate(splits) if s == "train"]
    if normalization is None:
        mean = scan.channel_means[train_rows].mean(axis=0)
        std = np.sqrt(np.maximum(scan.channel_sq_means[train_rows].mean(axis=0) - mean**2, 1e-6))
        if color == "L":
            mean, std = mean[:1], std[:1]
        normalization = ([round(float(v), 5) for v in mean], [round(float(v), 5) for v in std])
    mean, std = normalization
    if color == "L" and len(mean) == 3:
        mean, std = [float(np.mean(mean))], [float(np.mean(std))]
    counts = Counter(scan.files[i].label for i in train_rows)
    class_weights = None
    if config.class_weights == "auto":
        total = sum(counts.values())
        class_weights = [round(total / (len(labels) * max(1, counts[label])), 5) for label in labels]
    return {
        "labels": labels,
        "image_size": config.image_size,
        "short_side": short_side,
        "color_mode": color,
        "channels": 1 if color == "L" else 3,
        "mean": list(mean),
        "std": list(std),
        "max_pixels": config.max_pixels,
        "baseline_size": int(min(32, np.median(scan.native_short_sides))),
        "train_class_counts": {label: counts.get(label, 0) for label in labels},
        "class_weights": class_weights,
    }


def _wrap(config, scan: ScanResult, splits, index, state, source: Path) -> PreparedData:
    datasets = {}
    for split in ("train", "val", "test"):
        rows = [i for i, s in enumerate(splits) if s == split]
        transform = train_transform(state, config) if split == "train" else eval_transform(state)
        datasets[split] = ImageDataset(
            [scan.files[i].path for i in rows], [index[scan.files[i].label] for i in rows],
            [scan.pixels[i] for i in rows] if scan.pixels is not None else None, transform, state,
        )
    train_targets = datasets["train"].targets
    weights = None
    if config.sampler == "weighted":
        counts = Counter(train_targets)
        weights = [1.0 / counts[t] for t in train_targets]
    summary = {
        "source": str(source),
        "classes": len(index),
        **{f"{split} images": len(ds) for split, ds in datasets.items()},
        "skipped files": len(scan.skipped),
        **{f"skipped: {s['file']}": s["reason"] for s in scan.skipped[:20]},
    }
    fingerprint = hashlib.sha256(
        "\n".join(f"{f.path}|{f.label}|{_size(f.path)}" for f in scan.files).encode()
    ).hexdigest()[:16]
    return PreparedData(train=datasets["train"], val=datasets["val"], test=datasets["test"], state=state,
                        summary=summary, fingerprint=fingerprint, sample_weights=weights)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1

