"""torchworks: data to a trained, evaluated, explained, exported and served PyTorch model.

The Python API mirrors the CLI::

    import torchworks
    run = torchworks.train("image-classification", data="digits", epochs=10)
    print(run.path, run.metrics["accuracy"])
    predictor = torchworks.load(run.path)
    predictor.predict(["some.png", "folder/"])
    torchworks.explain(run.path, "some.png", method="gradcam").path  # heat maps, JSON, HTML

Heavy libraries load on first use, so ``import torchworks`` is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__version__ = "0.1.0"
__all__ = ["train", "evaluate", "load", "quickstart", "export", "benchmark", "list_tasks", "__version__"]


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


def explain(run: str | Path, inputs: Any, method: str | None = None, target: str | None = None,
            output: str | Path | None = None, **options: Any):
    """Explain the bundle at ``run`` on ``inputs`` (what ``predict`` takes) and write the results.

    Args:
        run: A run folder.
        inputs: Files, folders, CSVs, texts (text models), DataFrames (forecasting), or a list of them.
        method: One of the task's explain methods (``gradcam``, ``integrated_gradients``...); its
            default when None.
        target: What to explain: a class label (classifiers), a forecast step (forecasting), a
            transcript (speech); the model's own prediction when None.
        output: A new or empty folder; default ``<run>/explanations/<timestamp>/``.
        **options: The method's settings, e.g. ``steps=64`` or ``layer="backbone.12"``.

    Returns:
        An ``ExplainResult`` with ``.path`` (the folder: PNGs, ``explanations.json``,
        ``explanation.html``) and ``.records`` (one JSON-ready dict per explained input).
    """
    from torchworks.engine.explain import explain as run_explanation

    return run_explanation(run, inputs, method=method, target=target, output=output, options=options, progress=False)


def quickstart(task: str | None = None, **overrides: Any):
    """Run the built-in recipe of ``task`` (or of every task); returns the runs."""
    from torchworks.engine.quickstart import quickstart as run_quickstart

    return run_quickstart(task, overrides)


def export(run: str | Path, format: str = "onnx", tolerance: float = 0.01):  # noqa: A002  (the CLI's name)
    """Export the bundle at ``run`` (``onnx``, ``torchscript``, ``onnx-int8``, ``torchscript-int8``, ``int8``,
    ``all``), each checked by the parity gate on the test split and kept only if it passes; returns one
    result per format, with ``.status`` passed, failed or skipped and ``.reason``."""
    from torchworks.engine.export import export as run_export

    return run_export(run, format, tolerance=tolerance)


def benchmark(run: str | Path, formats: str = "all", threads: int = 2, seconds: float = 2.0,
              make_exports: bool = True):
    """Time the eager model against its exports (batch 1 and 32); returns rows and the table's path.
    ``make_exports=False`` measures only the exports the bundle already has."""
    from torchworks.engine.benchmark import benchmark as run_benchmark

    return run_benchmark(run, formats=formats, threads=threads, seconds=seconds, make_exports=make_exports)


def list_tasks() -> list[str]:
    """Names of the registered tasks."""
    from torchworks.tasks import list_tasks as registered

    return [cls.name for cls in registered()]
