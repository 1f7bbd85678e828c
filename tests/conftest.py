"""Shared fixtures: an isolated data home and run folder, and tiny generated image datasets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Sample datasets go to one per-session folder; MLflow never touches the user's store."""
    home = tmp_path_factory.getbasetemp() / "torchworks-home"
    monkeypatch.setenv("TORCHWORKS_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return home


def write_image(path: Path, pixels: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode=mode).save(path)
    return path


def make_shapes_dataset(root: Path, classes=("circle", "square", "stripes"), per_class: int = 12,
                        size: int = 16, seed: int = 0) -> Path:
    """A tiny, learnable image-folder tree: one visual pattern per class, with noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    patterns = {
        "circle": ((yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 3) ** 2),
        "square": (abs(yy - size / 2) < size / 4) & (abs(xx - size / 2) < size / 4),
        "stripes": (xx // 2) % 2 == 0,
        "cross": (abs(yy - size / 2) < 2) | (abs(xx - size / 2) < 2),
    }
    for name in classes:
        for i in range(per_class):
            noise = rng.normal(0, 25, (size, size))
            pixels = np.clip(patterns[name] * 200 + 30 + noise, 0, 255).astype(np.uint8)
            write_image(root / name / f"{i:03d}.png", pixels)
    return root


@pytest.fixture
def shapes_dir(tmp_path) -> Path:
    """Three classes x 12 grayscale 16x16 PNGs."""
    return make_shapes_dataset(tmp_path / "shapes")


@pytest.fixture
def tiny_settings(tmp_path) -> dict:
    """Settings for a training run that takes a few seconds."""
    return {
        "output": str(tmp_path / "runs"),
        "model": "smallcnn",
        "image_size": 16,
        "crop": 1.0,
        "epochs": 2,
        "batch_size": 8,
        "track": False,
        "progress": False,
    }


@pytest.fixture(name="write_image", scope="session")
def _write_image_fixture():
    """The :func:`write_image` helper, for tests (test modules cannot import conftest)."""
    return write_image


@pytest.fixture(name="make_shapes_dataset", scope="session")
def _make_shapes_dataset_fixture():
    """The :func:`make_shapes_dataset` helper, for tests."""
    return make_shapes_dataset


@pytest.fixture
def cli(monkeypatch, capsys):
    """``cli("train", TASK, "k=v", ...)`` runs the CLI in-process; returns (exit code, stdout, stderr)."""
    import sys

    from torchworks.cli.main import main

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["torchworks", *args])
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code or 0
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run



@pytest.fixture(scope="session")
def image_run(tmp_path_factory) -> Path:
    """A 3-class 16x16 image classifier trained for two epochs, with an ONNX export. Shared by the
    session: copy it before changing anything."""
    import torchworks
    from torchworks.engine.export import export

    root = tmp_path_factory.mktemp("image-run")
    data = make_shapes_dataset(root / "shapes")
    run = torchworks.train("image-classification", data=str(data), output=str(root / "runs"), name="shapes",
                           model="smallcnn", image_size=16, crop=1.0, epochs=2, batch_size=8, track=False,
                           progress=False)
    export(run.path, "onnx")
    return run.path
