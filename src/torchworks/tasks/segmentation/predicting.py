"""Prediction: images in, a class for every pixel out, as records (pixel counts per class and one RLE
mask per class present) and, beside the predictions file, an index PNG and a coloured overlay per image.

Images are predicted whole at their stored size (the network pads to its stride and crops back); a
batch of images of different sizes is padded at the bottom and right, and each record is cut back to
its image's own size. What is held between batches is the class map (one byte a pixel) and a
confidence map, not the logits. Masks are COCO run-length encodings (``{"size": [h, w], "counts": str}``,
read back by ``pycocotools.mask.decode``).

Volumes (NIfTI ``.nii``/``.nii.gz`` and ``.npy`` stacks, in folders and CSVs too) become one item per
slice (:mod:`~torchworks.tasks.segmentation.volume_reading`), read lazily and predicted like images (with
``tile=`` too), and their slices' records are gathered back into one record per volume
(:mod:`~torchworks.tasks.segmentation.volume_records`); :func:`prediction_records` sorts out which is which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchworks.bad_inputs import pass_over
from torchworks.errors import DataError
from torchworks.image_files import decode_rgb, picture_size
from torchworks.image_inputs import Source, expand_input, input_name
from torchworks.tasks.segmentation.tiling import TILED_MAX_PIXELS, SlidingWindow, WholePicture
from torchworks.tasks.segmentation.volume_reading import (
    LISTED_SUFFIXES,
    SliceReader,
    VolumeSlice,
    open_volume,
    slices_of,
    volume_suffix,
)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})


@dataclass(frozen=True)
class PictureItem:
    """One image to segment: its name in records, its source and its stored size."""

    name: str
    source: Source
    height: int
    width: int

    def __str__(self) -> str:
        return self.name


class PictureInputs(torch.utils.data.Dataset):
    """The images (and volumes' slices) as float tensors ``[3, H, W]`` in [0, 1], or with ``tiled`` as
    :class:`~torchworks.tasks.segmentation.tiling.WholePicture` (bytes, for the sliding window), decoded
    when asked for; a bad one raises DataError naming it."""

    def __init__(self, items: list[PictureItem | VolumeSlice], max_pixels: int, tiled: bool = False):
        self.items = items
        self.tiled = tiled
        self.max_pixels = max(max_pixels, TILED_MAX_PIXELS) if tiled else max_pixels
        self.volumes = SliceReader()

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> torch.Tensor | WholePicture:
        item = self.items[index]
        if isinstance(item, VolumeSlice):
            pixels = torch.from_numpy(self.volumes.pixels(item, self.max_pixels))
        else:
            pixels = torch.from_numpy(np.array(decode_rgb(item.source, self.max_pixels, item.name), dtype=np.uint8))
        pixels = pixels.permute(2, 0, 1)
        return WholePicture(pixels.contiguous()) if self.tiled else pixels.float() / 255.0


def picture_inputs(inputs: Sequence[Any], state: dict[str, Any]
                   ) -> tuple[PictureInputs, list[PictureItem | VolumeSlice]]:
    """The images and volumes of ``inputs`` (files, folders, CSVs of paths, uploads, in-memory pictures;
    only image headers read here, volumes opened) and one :class:`PictureItem` per image, one
    :class:`~torchworks.tasks.segmentation.volume_reading.VolumeSlice` per slice of a volume.

    Raises:
        DataError: No image or volume at all among the inputs.
    """
    items: list[PictureItem | VolumeSlice] = []
    for given in inputs:
        try:
            found = expand_input(given, IMAGE_SUFFIXES | LISTED_SUFFIXES, what="an image or volume file")
        except DataError as error:
            pass_over(input_name(given), error, len(items))
            continue
        in_folder = isinstance(given, (str, Path)) and Path(given).expanduser().is_dir()
        for source, name in found:
            try:
                items += _listed(source, name, in_folder)
            except DataError as error:
                pass_over(name, error, len(items))
    if not items:
        raise DataError("nothing to predict", expected="image files, volumes (.nii, .nii.gz, .npy), folders of "
                        "them or a CSV of paths", got="no images or volumes in the inputs given")
    return PictureInputs(items, state["max_pixels"], tiled=state.get("tile", 0) > 0), items


def _listed(source: Source, name: str, in_folder: bool) -> list[PictureItem | VolumeSlice]:
    """The items of one listed source: an image, or a volume's slices (none for a ``.gz`` file found in
    a folder that is no ``.nii.gz``; one named itself is refused)."""
    if isinstance(source, Path) and source.suffix.lower() in LISTED_SUFFIXES:
        if in_folder and volume_suffix(source.name) is None:
            return []
        return slices_of(open_volume(source, name))
    width, height = picture_size(source, name)
    return [PictureItem(name, source, height, width)]


def prediction_runner(model: Any, state: dict[str, Any]) -> Any:
    """``model`` itself, or with ``tile=`` a :class:`~torchworks.tasks.segmentation.tiling.SlidingWindow`
    over it (what predict runs on each batch of :class:`PictureInputs`)."""
    if state.get("tile", 0) <= 0:
        return model
    return SlidingWindow(model, state["tile"], state["overlap"], len(state["labels"]))


def class_maps(logits: torch.Tensor | list[dict[str, torch.Tensor]], state: dict[str, Any]
               ) -> dict[str, torch.Tensor] | list[dict[str, torch.Tensor]]:
    """A batch's logits ``[B, C, H, W]`` as what the records need: ``classes`` (uint8 or int16 class
    indices) and ``confidence`` (the winning class's probability, uint8 in 1/255 steps). The sliding
    window's outputs (a list of such maps, one per image) are that already and pass as they are."""
    if isinstance(logits, list):
        return logits
    probabilities = logits.float().softmax(dim=1)
    confidence, classes = probabilities.max(dim=1)
    dtype = torch.uint8 if len(state["labels"]) <= 256 else torch.int16
    return {"classes": classes.to(dtype), "confidence": (confidence * 255).round().to(torch.uint8)}


def prediction_records(outputs: dict[str, torch.Tensor] | list[dict[str, torch.Tensor]] | torch.Tensor,
                       items: list[PictureItem | VolumeSlice], state: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per image (:func:`mask_records`) and one per whole volume
    (:func:`~torchworks.tasks.segmentation.volume_records.volume_records`), in the order of ``items``."""
    from torchworks.batches import take_rows
    from torchworks.tasks.segmentation.volume_records import volume_records

    if isinstance(outputs, torch.Tensor):
        outputs = class_maps(outputs, state)
    records: list[dict[str, Any]] = []
    start = 0
    for is_slice, run in groupby(items, key=lambda item: isinstance(item, VolumeSlice)):
        run = list(run)
        part = take_rows(outputs, slice(start, start + len(run)))
        start += len(run)
        images = mask_records(part, run, state)
        records += volume_records(images, run, state) if is_slice else images
    return records


def mask_records(outputs: dict[str, torch.Tensor] | list[dict[str, torch.Tensor]] | torch.Tensor,
                 items: list[PictureItem], state: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per image: ``input``, ``width``, ``height``, ``pixels`` and ``share`` per class present,
    ``mean_confidence`` (of the winning class over the image) and ``masks``: a COCO RLE per class present.
    ``outputs`` are :func:`class_maps` of the logits (a padded batch, or one map per image), or the
    logits themselves."""
    labels = state["labels"]
    if isinstance(outputs, torch.Tensor):
        outputs = class_maps(outputs, state)
    records = []
    for row, item in enumerate(items):
        maps = outputs[row] if isinstance(outputs, list) else {key: value[row] for key, value in outputs.items()}
        classes = maps["classes"][:item.height, :item.width].numpy().astype(np.int64)
        confidence = maps["confidence"][:item.height, :item.width].numpy()
        counts = np.bincount(classes.ravel(), minlength=len(labels))
        present = [c for c in range(len(labels)) if counts[c]]
        records.append({
            "input": item.name, "width": item.width, "height": item.height,
            "pixels": {labels[c]: int(counts[c]) for c in present},
            "share": {labels[c]: round(float(counts[c]) / classes.size, 6) for c in present},
            "mean_confidence": round(float(confidence.mean()) / 255.0, 4),
            "masks": {labels[c]: run_length(classes == c) for c in present},
        })
    return records


def run_length(binary: np.ndarray) -> dict[str, Any]:
    """``binary`` (H x W) as COCO's compressed run-length encoding, JSON-ready."""
    from pycocotools import mask as coco_mask

    encoded = coco_mask.encode(np.asfortranarray(binary.astype(np.uint8)))
    return {"size": [int(v) for v in encoded["size"]], "counts": encoded["counts"].decode("ascii")}


def class_map_of(record: dict[str, Any], labels: list[str]) -> np.ndarray:
    """A record's masks painted back into one H x W map of class indices (the inverse of :func:`mask_records`)."""
    from pycocotools import mask as coco_mask

    classes = np.zeros((record["height"], record["width"]), dtype=np.int64)
    for name, rle in record.get("masks", {}).items():
        decoded = coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")})
        classes[decoded.astype(bool)] = labels.index(name)
    return classes


def picture_of(name: str) -> np.ndarray | None:
    """The image a record names, read again for its overlay, or None when it is no file any more."""
    path = Path(name)
    if not path.is_file():
        return None
    try:
        return np.asarray(decode_rgb(path, 2**62, name), dtype=np.uint8)
    except DataError:
        return None
