"""How the contract suite runs image-classification on tiny data: three classes of 16x16 shapes."""

from __future__ import annotations

from pathlib import Path

TASK = "image-classification"
SETTINGS = {"model": "smallcnn", "image_size": 16, "crop": 1.0}
QUICKSTART = {"epochs": 1, "baselines": False}


def make_data(request, scratch: Path) -> Path:
    return request.getfixturevalue("shapes_dir")


def predict_inputs(data: Path) -> list:
    return [str(data / "circle" / "000.png"), str(data / "square")]
