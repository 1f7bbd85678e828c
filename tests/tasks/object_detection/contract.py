"""How the contract suite runs object-detection on tiny data: 48 generated 128x128 scenes (COCO JSON)."""

from __future__ import annotations

from pathlib import Path

TASK = "object-detection"
SETTINGS = {"image_size": 128, "conf": 0.01}
QUICKSTART = {"epochs": 1, "image_size": 64, "batch_size": 32}


def make_data(request, scratch: Path) -> Path:
    return request.getfixturevalue("scenes_dir")


def predict_inputs(data: Path) -> list:
    return [str(data / "images" / "000000.jpg"), str(data / "images")]
