"""Tiny detection datasets written into tmp_path: 32x32 PNGs and their annotations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image


def write_png(path: Path, size: tuple[int, int] = (32, 32)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (40, 80, 120)).save(path)
    return path


def write_coco(path: Path, images: list[dict], annotations: list[dict], categories: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


@pytest.fixture
def png():
    return write_png


@pytest.fixture
def coco():
    return write_coco
