"""The mask volume written for each volume predicted, into the masks folder beside the predictions file.

``--output preds.json`` writes, for ``scan.nii.gz`` (or ``scan.nii``), ``preds_masks/scan_mask.nii.gz``,
and for ``stack.npy``, ``preds_masks/stack_mask.npy``: the class of every voxel, rebuilt from the
record's per-slice run-length masks (:func:`class_volume_of`), with the values the PNG masks use
(:func:`~torchworks.tasks.segmentation.mask_files.mask_values`, which the masks folder's writer passes: the
data's own mask values, 0/255 for binary data; class indices for colour-mask data), as ``uint8``
(``uint16`` for values over 255).

- NIfTI: the input's shape (``X x Y x Z``, or ``X x Y x Z x 1``), affine and header (qform and sform,
  units, orientation), with the mask's integer data type, no intensity scaling (``scl_slope`` unset:
  the input's would turn class values into something else), ``cal_min``/``cal_max`` spanning the mask
  values, intent ``NIFTI_INTENT_LABEL`` and a ``descrip`` naming the values' classes. Always
  gzip-compressed (a mask compresses a hundredfold); NIfTI-2 input gives NIfTI-2 output.
- ``.npy``: the stack's ``[slices, H, W]`` (a colour stack's mask has no colour axis).

The input's header is read again (not its voxels); an input that is gone, or whose shape no longer
matches the record, gets no mask volume. Like every file in the masks folder, it is written into the
folder being built and appears only when the folder is whole (:mod:`torchworks.companion_folders`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from torchworks.companion_folders import FreeNames
from torchworks.tasks.segmentation.predicting import class_map_of
from torchworks.tasks.segmentation.volume_reading import volume_stem

_DESCRIPTION_BYTES = 80  # NIfTI's descrip field


def is_volume_record(record: dict[str, Any]) -> bool:
    """Whether a readable record is a volume's (it has ``slice_masks``)."""
    return "slice_masks" in record


def class_volume_of(record: dict[str, Any], labels: list[str]) -> np.ndarray:
    """A volume record's classes as ``[slices, H, W]`` class indices (``uint8``; ``int16`` past 256
    classes), decoded from its ``slice_masks``."""
    dtype = np.uint8 if len(labels) <= 256 else np.int16
    classes = np.empty((record["slices"], record["height"], record["width"]), dtype=dtype)
    for index, classes_of_slice in enumerate(_slice_classes(record, labels)):
        classes[index] = classes_of_slice
    return classes


def write_mask_volume(record: dict[str, Any], folder: Path, names: FreeNames, labels: list[str],
                      values: list[int]) -> str | None:
    """Write the mask volume of ``record`` into ``folder``, class ``i`` (of ``labels``) as ``values[i]``;
    its file name, or None when the input is gone or changed."""
    path = Path(record["input"])
    if not path.is_file():
        return None
    lookup = np.asarray(values, dtype=np.uint8 if max(values) <= 255 else np.uint16)
    stored = np.empty((record["slices"], record["height"], record["width"]), dtype=lookup.dtype)
    for index, classes in enumerate(_slice_classes(record, labels)):
        stored[index] = lookup[classes]
    stem = volume_stem(path.name)
    if record["format"] == "npy":
        name = names.take(f"{stem}_mask", ".npy")
        np.save(folder / name, stored, allow_pickle=False)
        return name
    image = _nifti_header_of(path, record)
    if image is None:
        return None
    name = names.take(f"{stem}_mask", ".nii.gz")
    _save_nifti(image, np.moveaxis(stored, 0, -1).reshape(image.shape), folder / name, labels, values)
    return name


def _slice_classes(record: dict[str, Any], labels: list[str]) -> Iterator[np.ndarray]:
    """Each slice's ``H x W`` class indices, in order."""
    for masks in record["slice_masks"]:
        yield class_map_of({"height": record["height"], "width": record["width"], "masks": masks}, labels)


def _nifti_header_of(path: Path, record: dict[str, Any]) -> Any:
    """The input NIfTI image (header only; its voxels stay on disk), or None when it no longer reads or
    no longer has the record's shape."""
    import nibabel

    try:
        image = nibabel.load(path)
    except (nibabel.filebasedimages.ImageFileError, OSError, EOFError, ValueError):
        return None
    return image if list(image.shape) == list(record["shape"]) else None


def _save_nifti(source: Any, data: np.ndarray, target: Path, labels: list[str], values: list[int]) -> None:
    """``data`` saved as a label volume with ``source``'s affine and header."""
    import nibabel

    header = source.header.copy()
    header.set_data_dtype(data.dtype)
    mask = type(source)(data, source.affine, header)  # a new image: the input's scl_slope/scl_inter dropped
    mask.header.set_intent("label")
    mask.header["cal_min"], mask.header["cal_max"] = min(values), max(values)
    text = "torchworks mask " + " ".join(f"{value}={label}" for value, label in zip(values, labels))
    mask.header["descrip"] = text.encode("ascii", "replace")[:_DESCRIPTION_BYTES - 1]
    nibabel.save(mask, target)
