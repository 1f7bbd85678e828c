"""Prediction: images in, a class for every pixel out, as records (pixel counts per class and one RLE
mask per class present) and, beside the predictions file, an index PNG and a coloured overlay per image.

Images are predicted whole at their stored size (the network pads to its stride and crops back); a
batch of images of different sizes is padded at the bottom and right, and each record is cut back to
its image's own size. What is held between batches is the class map (one byte a pixel) and a
confidence map, not the logits. Masks are COCO run-length encodings (``{"size": [h, w], "counts": str}``,
read back by ``pycocotools.mask.decode``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchworks.bad_inputs import pass_over
from torchworks.errors import DataError
from torchworks.image_files import decode_rgb, picture_size
from torchworks.image_inputs import Source, expand_input, input_name

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
    """The images as float tensors ``[3, H, W]`` in [0, 1], decoded when asked for; a bad one raises
    DataError naming it."""

    def __init__(self, items: list[PictureItem], max_pixels: int):
        self.items = items
        self.max_pixels = max_pixels

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> torch.Tensor:
        item = self.items[index]
        pixels = np.asarray(decode_rgb(item.source, self.max_pixels, item.name), dtype=np.uint8)
        return torch.from_numpy(pixels.copy()).permute(2, 0, 1).float() / 255.0


def picture_inputs(inputs: Sequence[Any], state: dict[str, Any]) -> tuple[PictureInputs, list[PictureItem]]:
    """The images of ``inputs`` (files, folders, CSVs of paths, uploads, in-memory pictures; only their
    headers read here) and one :class:`PictureItem` per image.

    Raises:
        DataError: No image at all among the inputs.
    """
    items: list[PictureItem] = []
    for given in inputs:
        try:
            found = expand_input(given, IMAGE_SUFFIXES)
        except DataError as error:
            pass_over(input_name(given), error, len(items))
            continue
        for source, name in found:
            try:
                width, height = picture_size(source, name)
            except DataError as error:
                pass_over(name, error, len(items))
                continue
            items.append(PictureItem(name, source, height, width))
    if not items:
        raise DataError("nothing to predict", expected="image files, folders of them or a CSV of paths",
                        got="no images in the inputs given")
    return PictureInputs(items, state["max_pixels"]), items


def class_maps(logits: torch.Tensor, state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """A batch's logits ``[B, C, H, W]`` as what the records need: ``classes`` (uint8 or int16 class
    indices) and ``confidence`` (the winning class's probability, uint8 in 1/255 steps)."""
    probabilities = logits.float().softmax(dim=1)
    confidence, classes = probabilities.max(dim=1)
    dtype = torch.uint8 if len(state["labels"]) <= 256 else torch.int16
    return {"classes": classes.to(dtype), "confidence": (confidence * 255).round().to(torch.uint8)}


def mask_records(outputs: dict[str, torch.Tensor] | torch.Tensor, items: list[PictureItem], state: dict[str, Any]
                 ) -> list[dict[str, Any]]:
    """One record per image: ``input``, ``width``, ``height``, ``pixels`` and ``share`` per class present,
    ``mean_confidence`` (of the winning class over the image) and ``masks``: a COCO RLE per class present.
    ``outputs`` are :func:`class_maps` of the logits, or the logits themselves."""
    labels = state["labels"]
    if isinstance(outputs, torch.Tensor):
        outputs = class_maps(outputs, state)
    records = []
    for row, item in enumerate(items):
        classes = outputs["classes"][row, :item.height, :item.width].numpy().astype(np.int64)
        confidence = outputs["confidence"][row, :item.height, :item.width].numpy()
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
