"""How the contract suite runs the toy task (tests/toy/toy_task.py) on tiny data."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("toy_task", Path(__file__).with_name("toy_task.py"))
toy_task = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(toy_task)  # registers the task and its sample

TASK = "toy-points"
SETTINGS = {"hidden": 8, "lr": 0.03}
QUICKSTART = {"epochs": 2}


def make_data(request, scratch: Path) -> Path:
    return toy_task.make_points(scratch / "points.csv", n=120)


def predict_inputs(data: Path) -> list:
    return [[0.1, 0.2], str(data)]
