"""torchworks: data to a trained, evaluated, explained, exported and served PyTorch model.

The Python API mirrors the CLI::

    import torchworks
    run = torchworks.train("image-classification", data="digits", epochs=10)
    print(run.path, run.metrics["accuracy"])
    predictor = torchworks.load(run.path)
    predictor.predict(["some.png", "folder/"])

Heavy libraries load on first use, so ``import torchworks`` is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__version__ = "0.1.0"
__all__ = ["train", "evaluate", "load", "quickstart", "list_tasks", "__version__"]


def train(task: str, **settings: Any):
    """Train a model for ``task`` (settings as in the CLI); returns a run with ``.path`` and ``.metrics``."""
    from torchworks.engine.train import train as run_training

    return run_training(task, settings)


def evaluate(run: str | Path):
    """Re-evaluate the bundle at ``run`` on its test split; returns the run with fresh metrics."""
    from torchworks.engine.evaluate import evaluate as run_evaluation

    return run_evaluation(run)


def load(run: str | Path):
    """Load a bundle as a predictor with ``.predict(inputs)``. Never unpickles anything."""
    from torchworks.engine.predict import Predictor

    return Predictor(run)


def quickstart(task: str | None = None, **overrides: Any):
    """Run the built-in recipe of ``task`` (or of every task); returns the runs."""
    from torchworks.engine.quickstart import quickstart as run_quickstart

    return run_quickstart(task, overrides)


def list_tasks() -> list[str]:
    """Names of the registered tasks."""
    from torchworks.tasks import list_tasks as registered

    return [cls.name for cls in registered()]
