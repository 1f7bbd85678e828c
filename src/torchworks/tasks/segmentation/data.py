"""Read, validate, split and wrap segmentation data for a run.

The layout of ``config.data`` says how to read it (image and mask folders, a CSV of pairs, a COCO JSON file,
or a sample's name). Every mask is read once here: its values are checked against the class map (or give
the classes when there is none), its size against its image's, and its pixels per class are counted (the
state's ``train_pixels``), so that no bad mask is found mid-epoch. Unsplit data is split by seed, stratified
by the rarest class each image holds; pre-split data keeps its splits.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from torchworks.console import say
from torchworks.datasets import sample_or_path
from torchworks.errors import ConfigError, DataError
from torchworks.splitting import assign_splits
from torchworks.tasks.segmentation.classes import (
    EXAMPLE,
    ClassMap,
    MaskCoder,
    class_map_of_state,
    filled_colours,
    infer_class_map,
    read_class_map,
)
from torchworks.tasks.segmentation.coco_masks import CROWD, read_coco_masks
from torchworks.tasks.segmentation.config import SegmentationConfig
from torchworks.tasks.segmentation.dataset import SegmentationDataset
from torchworks.tasks.segmentation.models import architecture_of
from torchworks.tasks.segmentation.reading import (
    BadFiles,
    Scan,
    class_file_in,
    detect_layout,
    read_csv_pairs,
    read_folders,
    scan_masks,
)
from torchworks.tasks.segmentation.transforms import crop_transform, train_transform
from torchworks.tasks.values import PreparedData

LAYOUT_NAMES = {"folders": "image and mask folders", "csv": "CSV of image and mask paths", "coco": "COCO JSON"}
SHOWN = 20  # skipped files named in the summary
WARNED = 3  # skipped files named in the warning


@dataclass
class SegmentationData:
    """Everything read and checked, before splitting: the usable items, their pixels per class and
    ignored pixels, the class map (colours filled in) and the coder of their masks."""

    source: Path
    layout: str
    items: list[Any]
    pixels: np.ndarray  # items x classes
    ignored: np.ndarray  # ignored pixels per item
    class_map: ClassMap
    colours: list[list[int]]
    coder: MaskCoder
    mask_format: str
    skipped: list[tuple[str, str]]
    unpaired: list[str]


def target_ignore(classes: int) -> int:
    """The value ignored pixels take in coded masks: 255 (what :func:`dataset.collate` pads with by default),
    or 65535 for more than 255 classes. It is never a class index, whatever value the stored masks use."""
    return 255 if classes <= 255 else 65535


def prepare_segmentation_data(config: SegmentationConfig, state: dict[str, Any] | None = None) -> PreparedData:
    """Read the data named by ``config.data``, check every mask, split it and wrap it as datasets.

    Args:
        config: The run's settings.
        state: A trained model's state (evaluating new data): its classes, values and colours are kept, and
            data declaring others is refused.

    Raises:
        DataError: Unknown layout, a bad mask (naming the file), no usable images, or too few to split.
        ConfigError: A bad class map, or fractions that leave nothing to train on.
    """
    data = read_segmentation_data(config, state)
    splits = split_items(data, config.val_fraction, config.test_fraction, config.seed)
    train_pixels = data.pixels[splits["train"]].sum(axis=0)
    _warn(data, train_pixels if state is None else None)
    if state is None:
        state = _new_state(config, data, train_pixels)
    transform = train_transform(state["image_size"], data.coder.ignore_index, hflip=config.hflip,
                                vflip=config.vflip, scale=config.scale, color=config.color) if config.augment \
        else crop_transform(state["image_size"], data.coder.ignore_index)
    datasets = {name: SegmentationDataset([data.items[i] for i in indices], data.coder, max_pixels=config.max_pixels,
                                          transform=transform if name == "train" else None)
                for name, indices in splits.items()}
    return PreparedData(train=datasets["train"], val=datasets["val"], test=datasets["test"], state=state,
                        summary=_summary(data, splits), fingerprint=_fingerprint(data))


def read_segmentation_data(config: SegmentationConfig, state: dict[str, Any] | None = None) -> SegmentationData:
    """Every image and mask of ``config.data`` read and checked, with the class map that codes the masks: the
    trained model's (``state``), else ``classes=`` or the data's classes.yaml, else the classes a COCO file
    declares or those the mask values show.

    Raises:
        DataError: Unknown layout, a bad mask or annotation (naming the file), or no usable image.
        ConfigError: A bad class map.
    """
    source = sample_or_path(config.data)
    layout, target = detect_layout(source)
    bad = BadFiles(config.bad_files)
    own = _own_class_map(config, target if layout == "folders" else target.parent)
    given = class_map_of_state(state) if state is not None else own
    unpaired: list[str] = []
    if layout == "coco":
        names, items = read_coco_masks(target, bad, given.names if given else None, config.max_pixels)
        given = given or ClassMap(names, list(range(len(names))), [None] * len(names), target.name)
    elif layout == "csv":
        items = read_csv_pairs(target, bad, config.max_pixels)
    else:
        items, unpaired = read_folders(target, bad, config.max_pixels)
    colour_declared = state["mask_format"] == "colour" if state is not None else bool(given and given.has_colours)
    scan = scan_masks(items, bad, max_pixels=config.max_pixels, grey_rgb=not colour_declared)
    if not scan.items:
        raise DataError(f"no usable images in {target}", expected="at least one image with a readable mask",
                        got=f"{len(bad.skipped)} skipped" + (f", first {bad.skipped[0][0]}: {bad.skipped[0][1]}"
                                                             if bad.skipped else ""),
                        hint="check that every image has its mask (same file stem) and both can be opened")
    class_map = given or _inferred(scan, config.ignore_index, target)
    if state is not None and own is not None:
        _check_against_model(own, class_map, state["mask_format"] == "colour")
    coder = _coder(class_map, scan, layout, config.ignore_index, state)
    counted = [coder.class_pixels(mask.values, mask.counts, item.mask_name)
               for item, mask in zip(scan.items, scan.masks)]
    fmt = state["mask_format"] if state is not None else _mask_format(layout, scan, class_map)
    return SegmentationData(
        source=target, layout=layout, items=scan.items, pixels=np.array([c for c, _ in counted], dtype=np.int64),
        ignored=np.array([i for _, i in counted], dtype=np.int64), class_map=class_map,
        colours=filled_colours(class_map, scan.palette), coder=coder, mask_format=fmt, skipped=bad.skipped,
        unpaired=unpaired)


def _own_class_map(config: SegmentationConfig, folder: Path) -> ClassMap | None:
    """The data's class map: ``classes=`` when given, else the classes.yaml of the data's folder."""
    file = Path(config.classes).expanduser() if config.classes else class_file_in(folder)
    return read_class_map(file) if file is not None else None


def _inferred(scan: Scan, raw_ignore: int, where: Path) -> ClassMap:
    if scan.colour:
        first = next(item.mask_name for item, mask in zip(scan.items, scan.masks) if mask.colour)
        raise DataError(f"colour masks in {where} come without a class map", expected="classes.yaml beside images/ "
                        "and masks/ (or classes=) giving each class its colour", got=f"RGB masks (first: '{first}')",
                        hint=f"write classes.yaml with a line per class, e.g. {EXAMPLE}")
    values = {int(v) for mask in scan.masks for v in mask.values}
    return infer_class_map(values, raw_ignore=raw_ignore, binary_allowed=all(m.mode != "P" for m in scan.masks))


def _coder(class_map: ClassMap, scan: Scan, layout: str, raw_ignore: int, state: dict[str, Any] | None) -> MaskCoder:
    marker = state["ignore_index"] if state is not None else target_ignore(len(class_map))
    if layout == "coco":  # rasterised annotations already hold class indices, and CROWD where ignored
        indices = ClassMap(class_map.names, list(range(len(class_map))), class_map.colours, class_map.source)
        return MaskCoder(indices, colour=False, raw_ignore=CROWD, ignore_index=marker)
    if scan.colour and not class_map.has_colours:
        raise DataError(f"{class_map.source} declares no colours, but the masks are RGB colour masks",
                        expected="a colour for each class", got="values only",
                        hint=f"give every class its colour, e.g. {EXAMPLE}")
    return MaskCoder(class_map, colour=scan.colour, raw_ignore=raw_ignore, ignore_index=marker)


def _mask_format(layout: str, scan: Scan, class_map: ClassMap) -> str:
    if layout != "coco" and scan.colour:
        return "colour"
    return "binary" if layout != "coco" and class_map.values == [0, 255] else "index"


def _check_against_model(own: ClassMap, model: ClassMap, colour: bool) -> None:
    """Refuse a class map of new data that declares values (colours) the trained model has no class for."""
    for name, value, shade in zip(own.names, own.values, own.colours):
        known = shade in model.colours if colour else value in model.values
        if (shade is not None or not colour) and not known:
            classes = ", ".join(f"{n} {c if colour else v}" for n, v, c in zip(model.names, model.values,
                                                                                model.colours))
            raise DataError(f"{own.source} declares a class the model does not know",
                            expected=f"the model's classes: {classes}",
                            got=f"class '{name}' with {'colour ' + str(shade) if colour else f'value {value}'}",
                            hint="evaluate on data labelled with the model's classes, or train a new model")


def split_items(data: SegmentationData, val_fraction: float, test_fraction: float, seed: int) -> dict[str, list[int]]:
    """Item indices by split: as the data gave them, missing splits carved out of train by ``seed``,
    stratified by the rarest class each image holds (counted in images), so rare classes reach every split.

    Raises:
        ConfigError: Fractions that leave nothing to train on.
        DataError: No training image, or too few images to hold out a validation and a test image.
    """
    if val_fraction + test_fraction >= 1:
        raise ConfigError("val_fraction + test_fraction leave nothing to train on", expected="a sum below 1",
                          got=f"{val_fraction} + {test_fraction}")
    present = [set(np.flatnonzero(row).tolist()) for row in data.pixels]
    images_of = Counter(c for classes in present for c in classes)
    strata = [f"class {min(classes, key=lambda c: (images_of[c], c))}" if classes else "(ignored only)"
              for classes in present]
    assigned = assign_splits(strata, [item.split for item in data.items], val_fraction, test_fraction, seed,
                             noun="image", rare="train")
    splits: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for index, split in enumerate(assigned):
        splits[split].append(index)
    empty = [name for name in ("train", "val", "test") if not splits[name]]
    if empty:
        raise DataError(f"too few images for a {' and a '.join(empty)} split",
                        expected="at least one image in each of train, val and test",
                        got=f"{len(data.items)} usable images: "
                        + ", ".join(f"{name} {len(indices)}" for name, indices in splits.items()),
                        hint="add images (a few dozen at least), raise val_fraction= / test_fraction=, or give "
                        "the missing split (images/<split>/ and masks/<split>/, or a split column)")
    return splits


def _new_state(config: SegmentationConfig, data: SegmentationData, train_pixels: np.ndarray) -> dict[str, Any]:
    from torchworks.tasks.segmentation.losses import auto_class_weights

    names = data.class_map.names
    values = list(range(len(names))) if data.mask_format == "colour" or data.layout == "coco" \
        else list(data.class_map.values)
    counts = [int(n) for n in train_pixels]
    return {"labels": list(names), "values": values, "colours": data.colours, "ignore_index": data.coder.ignore_index,
            "mask_format": data.mask_format, "model": config.model, "architecture": architecture_of(config),
            "image_size": config.image_size, "max_pixels": config.max_pixels,
            "train_pixels": dict(zip(names, counts)), "loss": config.loss,
            "class_weights": auto_class_weights(counts) if config.class_weights == "auto" else None}


def _warn(data: SegmentationData, train_pixels: np.ndarray | None) -> None:
    """Say what was skipped, and what would train a poor model: masks of one class, classes never trained on
    (not said when evaluating a trained model, ``train_pixels`` None)."""
    if data.skipped:
        named = ", ".join(f"{name} ({reason})" for name, reason in data.skipped[:WARNED])
        say(f"[yellow]warning:[/yellow] skipped {len(data.skipped)} image{'s' if len(data.skipped) > 1 else ''}: "
            f"{named}{' ...' if len(data.skipped) > WARNED else ''}; bad_files=fail stops at the first instead")
    if len(data.items) > 1 and all(np.count_nonzero(row) <= 1 for row in data.pixels):
        say("[yellow]warning:[/yellow] every mask holds a single class; check that masks/ holds the masks and "
            f"that the class map fits them ({data.class_map.source})")
    absent = [name for name, count in zip(data.class_map.names, train_pixels) if count == 0] \
        if train_pixels is not None else []
    if absent:
        many = len(absent) > 1
        say(f"[yellow]warning:[/yellow] class{'es' if many else ''} {', '.join(absent)} never occur"
            f"{'' if many else 's'} in the training masks; the model cannot learn {'them' if many else 'it'}")


def _summary(data: SegmentationData, splits: dict[str, list[int]]) -> dict[str, Any]:
    summary: dict[str, Any] = {"source": str(data.source), "format": LAYOUT_NAMES[data.layout],
                               "mask format": data.mask_format, "classes": ", ".join(data.class_map.names),
                               "class map": data.class_map.source}
    for name, indices in splits.items():
        summary[f"{name} images"] = len(indices)
    summary["masks with ignored pixels"] = int(np.count_nonzero(data.ignored))
    summary["ignored pixels"] = int(data.ignored.sum())
    summary["skipped files"] = len(data.skipped)
    summary.update({f"skipped: {name}": reason for name, reason in data.skipped[:SHOWN]})
    if data.unpaired:
        summary["masks without an image"] = len(data.unpaired)
    return summary


def _fingerprint(data: SegmentationData) -> str:
    digest = hashlib.sha256()
    for item, pixels in zip(data.items, data.pixels):
        mask = item.mask if isinstance(item.mask, Path) else item.mask_name
        digest.update(f"{item.image}|{item.width}x{item.height}|{mask}|".encode())
        digest.update(pixels.tobytes())
    return digest.hexdigest()[:16]
