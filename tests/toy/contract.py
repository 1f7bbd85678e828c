"""How the contract suite runs the toy task (tests/toy/toy_task.py) on tiny data."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def _load_toy_task():
    """The toy task's module, executed once per session (executing it registers the task and its sample)."""
    if "toy_task" not in sys.modules:
        spec = importlib.util.spec_from_file_location("toy_task", Path(__file__).with_name("toy_task.py"))
        sys.modules["toy_task"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["toy_task"])
    return sys.modules["toy_task"]


toy_task = _load_toy_task()

TASK = "toy-points"
SETTINGS = {"hidden": 8, "lr": 0.03}
QUICKSTART = {"epochs": 2}


def make_data(request, scratch: Path) -> Path:
    return toy_task.make_points(scratch / "points.csv", n=120)


def predict_inputs(data: Path) -> list:
    return [[0.1, 0.2], str(data)]
