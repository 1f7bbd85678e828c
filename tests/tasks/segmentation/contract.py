"""How the contract suite runs segmentation on tiny data: 24 generated 64x64 lesion scans with binary masks."""

from __future__ import annotations

from pathlib import Path

TASK = "segmentation"
SETTINGS = {"base_channels": 4, "depth": 2, "image_size": 32}
QUICKSTART = {"epochs": 1, "base_channels": 4, "depth": 2, "image_size": 64, "batch_size": 32, "baselines": False}


def make_data(request, scratch: Path) -> Path:
    from torchworks.tasks.segmentation.samples import make_lesions

    return make_lesions(scratch / "lesions", n=24, size=64, progress=False)


def predict_inputs(data: Path) -> list:
    return [str(data / "images" / "000000.png"), str(data / "images")]
