"""The files written beside a segmentation predictions file, and its CSV rows.

``--output scans.json`` also writes the folder ``scans_masks/`` beside it, holding per input image ``<name>.png``, the class map as a palette PNG whose pixel values are the data's own mask
values (0/255 for binary data, the class index for colour-mask data) and whose palette shows each class
in its colour, and ``<name>_overlay.png``, the image with the classes blended over it. Inputs that are
not files any more (uploads, in-memory pictures) get no files. The folder is built whole.

A volume's record gets its mask volume there instead, ``<volume stem>_mask.nii.gz`` or ``_mask.npy``
(:mod:`~torchworks.tasks.segmentation.volume_masks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from torchworks.companion_folders import FreeNames, folder_built_whole


def masks_folder(output: Path) -> Path:
    """Where the mask files of ``output``'s inputs go: ``<stem>_masks`` beside it."""
    return output.with_name(f"{output.stem}_masks")


def class_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """A segmentation record as CSV rows: one per class present (``input``, ``class``, ``pixels``, ``share``)."""
    head = {"input": record["input"], "width": record.get("width"), "height": record.get("height")}
    if "slices" in record:  # a volume's: width and height are its slices'
        head["slices"] = record["slices"]
    rows = [{**head, "class": name, "pixels": pixels, "share": record["share"][name]}
            for name, pixels in record.get("pixels", {}).items()]
    return rows or [{**head, "class": "", "pixels": "", "share": ""}]


def write_mask_files(records: list[dict[str, Any]], output: Path, state: dict[str, Any]) -> list[Path]:
    """Write each readable record's mask PNG and overlay into :func:`masks_folder` (replacing it whole);
    the files written, or none (and no folder) when no record names a file."""
    from torchworks.tasks.segmentation.drawing import overlay
    from torchworks.tasks.segmentation.predicting import class_map_of, picture_of
    from torchworks.tasks.segmentation.volume_masks import is_volume_record, write_mask_volume

    shown = [r for r in records if "error" not in r and isinstance(r.get("input"), str) and Path(r["input"]).is_file()]
    if not shown:
        return []
    folder = masks_folder(output)
    written: list[str] = []
    with folder_built_whole(folder) as building:
        names = FreeNames()
        for record in shown:
            if is_volume_record(record):
                volume_name = write_mask_volume(record, building, names, state["labels"], mask_values(state))
                written += [volume_name] if volume_name else []
                continue
            classes = class_map_of(record, state["labels"])
            stem = Path(record["input"]).stem
            mask_name = names.take(stem, ".png")
            stored_mask(classes, state).save(building / mask_name)
            written.append(mask_name)
            picture = picture_of(record["input"])
            if picture is not None and picture.shape[:2] == classes.shape:
                overlay_name = names.take(f"{stem}_overlay", ".png")
                Image.fromarray(overlay(picture, classes, state["colours"])).save(building / overlay_name)
                written.append(overlay_name)
    return [folder / name for name in written]


def mask_values(state: dict[str, Any]) -> list[int]:
    """The value each class is written as in mask files (PNGs and mask volumes): the data's own mask
    values (0/255 for binary data), or class indices for colour masks and values that do not fit a byte."""
    values = state["values"] if state.get("mask_format") != "colour" else list(range(len(state["labels"])))
    if max(values) > 255:
        values = list(range(len(state["labels"])))
    return list(values)


def stored_mask(classes: np.ndarray, state: dict[str, Any]) -> Image.Image:
    """A class-index map as the data stored its masks: a palette PNG of :func:`mask_values`, coloured by class."""
    values = mask_values(state)
    return palette_picture(np.asarray(values, dtype=np.uint8)[classes], values, state["colours"])


def palette_picture(pixels: np.ndarray, values: Sequence[int], colours: Sequence[Sequence[int]]) -> Image.Image:
    """``pixels`` (H x W uint8) as a palette picture whose entry ``values[i]`` shows ``colours[i]`` (others black);
    the palette ends at the largest value (a PNG of two classes carries two entries, not 256)."""
    picture = Image.fromarray(pixels, mode="P")
    palette = np.zeros((max(values, default=0) + 1, 3), dtype=np.uint8)
    for value, colour in zip(values, colours):
        palette[value] = colour
    picture.putpalette(palette.ravel().tolist())
    return picture
