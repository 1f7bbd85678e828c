"""A volume's slices, predicted one by one, gathered back into one record per volume.

The record (JSON-ready)::

    {"input": "scan.nii.gz", "format": "nifti", "shape": [512, 512, 90], "dtype": "int16",
     "slices": 90, "height": 512, "width": 512,           # a slice's size, as the model saw it
     "spacing": [0.7, 0.7, 2.5], "orientation": "RAS",    # NIfTI only, from the header (spacing in its units)
     "intensity": {"low": -1001.0, "high": 1520.0},       # the voxel values mapped to 0 and 1
     "pixels": {"background": ..., "lesion": ...},        # voxels per class over the volume
     "share": {...}, "mean_confidence": 0.98,
     "slice_pixels": {"background": [...], "lesion": [0, 0, 31, ...]},   # per slice, classes present
     "slice_masks": [{"background": RLE, "lesion": RLE}, ...]}           # per slice, classes present

``slice_masks`` holds one COCO run-length mask per class present in each slice (as an image record's
``masks``), a few hundred bytes a slice for the usual few blobs. It is what the mask volume beside the
predictions file is rebuilt from (:mod:`~torchworks.tasks.segmentation.volume_masks`): a record is the
whole prediction, so writing it needs nothing held back elsewhere, and a user can rebuild the volume from
the JSON alone (:func:`~torchworks.tasks.segmentation.volume_masks.class_volume_of`).

A volume some of whose slices could not be read gets no record here: its unread slices already stand
for it as one error row.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from torchworks.tasks.segmentation.volume_reading import Volume, VolumeSlice


def volume_records(slice_records: list[dict[str, Any]], items: list[VolumeSlice], state: dict[str, Any]
                   ) -> list[dict[str, Any]]:
    """One record per whole volume among ``items``, from the image records of its slices (one per item,
    in order, as :func:`~torchworks.tasks.segmentation.predicting.mask_records` makes them)."""
    records = []
    for volume, group in groupby(zip(items, slice_records), key=lambda pair: pair[0].volume):
        group = list(group)
        if [item.index for item, _ in group] != list(range(volume.slices)):
            continue  # slices failed to read: the volume's error row stands for it
        records.append(volume_record(volume, [record for _, record in group], state["labels"]))
    return records


def volume_record(volume: Volume, slices: list[dict[str, Any]], labels: list[str]) -> dict[str, Any]:
    """The record of ``volume`` from the records of all its slices."""
    totals = {label: sum(part["pixels"].get(label, 0) for part in slices) for label in labels}
    present = [label for label in labels if totals[label]]
    voxels = volume.slices * volume.height * volume.width
    record: dict[str, Any] = {"input": volume.name, "format": volume.format, "shape": list(volume.shape),
                              "dtype": volume.dtype, "slices": volume.slices, "height": volume.height,
                              "width": volume.width}
    if volume.spacing is not None:
        record["spacing"] = volume.spacing
    if volume.orientation is not None:
        record["orientation"] = volume.orientation
    record.update({
        "intensity": {"low": volume.low, "high": volume.high},
        "pixels": {label: totals[label] for label in present},
        "share": {label: round(totals[label] / voxels, 6) for label in present},
        "mean_confidence": round(sum(part["mean_confidence"] for part in slices) / len(slices), 4),
        "slice_pixels": {label: [part["pixels"].get(label, 0) for part in slices] for label in present},
        "slice_masks": [part["masks"] for part in slices],
    })
    return record
