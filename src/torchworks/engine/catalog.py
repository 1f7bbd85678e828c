"""The sample catalogue as users see it: every built-in task's sample datasets and generators.

Samples live with their tasks (``tasks/<task>/samples.py``) and register when the task is imported;
the shared registry in :mod:`torchworks.datasets` never imports a task. These functions load the
tasks first, so a name is found whichever task it belongs to.
"""

from __future__ import annotations

from pathlib import Path

from torchworks import datasets
from torchworks.datasets import SampleDataset


def _with_tasks() -> None:
    from torchworks.tasks import load_builtin_tasks

    load_builtin_tasks()


def get_sample(name: str) -> SampleDataset | None:
    """The sample called ``name`` (of any task), or None when ``name`` is not a sample (so it is a path)."""
    _with_tasks()
    return datasets.get_sample(name)


def list_samples() -> list[SampleDataset]:
    """Every task's samples, sorted by task then name."""
    _with_tasks()
    return datasets.list_samples()


def make_dataset(name: str, settings: dict[str, str]) -> Path:
    """Run the generator of sample ``name`` with ``key=value`` settings (``torchworks data make``)."""
    _with_tasks()
    return datasets.make_dataset(name, settings)


def check_data_name(data: str, task: str) -> None:
    """A ConfigError with a did-you-mean when ``data`` is a typo of one of ``task``'s sample names
    (:func:`torchworks.datasets.check_data_name`)."""
    _with_tasks()
    datasets.check_data_name(data, task)
