"""Run the model over a dataset (test-set evaluation, prediction) and write what a person looks at:
metrics, plots, report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.apply_func import move_data_to_device
from torch.utils.data import DataLoader, Dataset

from torchworks.batches import join_batches, to_cpu_float
from torchworks.bundle.atomic import atomic_write, atomic_write_bytes, atomic_write_json
from torchworks.config.schema import TrainConfig
from torchworks.errors import DataError
from torchworks.report.html import render_report
from torchworks.report.plots import close, training_curves
from torchworks.tasks.protocol import Evaluation, PreparedData, Task

PLOTS = "plots"


def labelled_batches(task: Task, dataset: Dataset, batch_size: int) -> DataLoader:
    """``(inputs, targets)`` batches of a labelled split, in order."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=task.collate_fn(labelled=True))


def run_model(model: torch.nn.Module | Callable[[Any], Any], inputs: Any) -> Any:
    """The outputs of ``model`` (a module in eval mode, or an export's runner) for one batch of CPU
    inputs, as float on the CPU, in whatever structure the model returns."""
    with torch.inference_mode():
        if isinstance(model, torch.nn.Module):
            inputs = move_data_to_device(inputs, next(model.parameters(), torch.zeros(0)).device)
        return to_cpu_float(model(inputs))


def collect_outputs(task: Task, model: torch.nn.Module | Callable[[Any], Any], dataset: Dataset,
                    batch_size: int, keep: Callable[[Any], Any] | None = None) -> Any:
    """The outputs for every item of a prediction dataset (``predict_inputs``), in order, joined
    across batches (:func:`torchworks.batches.join_batches`). ``model`` is a module, or a runner of an
    export (a callable from CPU inputs to outputs). ``keep`` reduces each batch's outputs to what is
    held until the end (``Task.reduce_outputs``)."""
    if isinstance(model, torch.nn.Module):
        model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=task.collate_fn(labelled=False))
    keep = keep or (lambda outputs: outputs)
    batches = [keep(run_model(model, inputs)) for inputs in loader]
    return join_batches(batches) if batches else torch.empty(0)


def collect_readable_outputs(task: Task, model: torch.nn.Module | Callable[[Any], Any], dataset: Dataset,
                             batch_size: int, keep: Callable[[Any], Any] | None = None
                             ) -> tuple[Any, dict[int, DataError]]:
    """Like :func:`collect_outputs`, but an item whose reading raises
    :class:`~torchworks.errors.DataError` (a dataset that decodes lazily) is left out of its batch
    and recorded: the outputs of the readable items, in order, and ``{index: error}`` of the others."""
    if isinstance(model, torch.nn.Module):
        model.eval()
    collate = task.collate_fn(labelled=False)

    def guarded_collate(batch: list[tuple[int, Any, DataError | None]]) -> tuple[Any, dict[int, DataError]]:
        readable = [item for _, item, error in batch if error is None]
        failed = {index: error for index, _, error in batch if error is not None}
        return (collate(readable) if readable else None), failed

    loader = DataLoader(_Guarded(dataset), batch_size=batch_size, shuffle=False, collate_fn=guarded_collate)
    batches, failures = [], {}
    for inputs, failed in loader:
        failures.update(failed)
        if inputs is not None:
            outputs = run_model(model, inputs)
            batches.append(keep(outputs) if keep is not None else outputs)
    return (join_batches(batches) if batches else torch.empty(0)), failures


class _Guarded(Dataset):
    """``(index, item, None)``, or ``(index, None, error)`` when reading the item raised DataError."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[int, Any, DataError | None]:
        try:
            return index, self.dataset[index], None
        except DataError as error:
            return index, None, error


def evaluate_on_test(task: Task, model: torch.nn.Module | Callable[[Any], Any], data: PreparedData,
                     config: TrainConfig) -> Evaluation:
    """The task's evaluation of ``model`` (a module or an export's runner) on the test split, fed to
    its streaming evaluator one batch at a time: no more than a batch of outputs is held here."""
    if isinstance(model, torch.nn.Module):
        model.eval()
    evaluator = task.evaluator(data, config)
    for inputs, targets in labelled_batches(task, data.test, config.batch_size):
        evaluator.update(run_model(model, inputs), targets)
    return evaluator.compute()


def write_run_outputs(
    run_dir: Path,
    task: Task,
    config: dict[str, Any],
    evaluation: Evaluation,
    metrics: dict[str, Any],
    history: list[dict[str, Any]],
    summary: dict[str, Any],
    headline: dict[str, str] | None = None,
) -> None:
    """Write ``metrics.json``, ``plots/*.png`` and ``report.html`` (each atomically); ``headline`` is
    the run's verdict shown at the top of the report (:meth:`torchworks.engine.verdict.Verdict.headline`)."""
    plots_dir = run_dir / PLOTS
    plots_dir.mkdir(exist_ok=True)
    figures = dict(evaluation.figures)
    curves = training_curves(history)
    if curves is not None:
        figures = {"training_curves": curves, **figures}
    plot_files = {}
    for name, figure in figures.items():
        path = plots_dir / f"{name}.png"
        atomic_write(path, lambda handle, fig=figure: fig.savefig(handle, format="png", dpi=110))
        close(figure)
        plot_files[name.replace("_", " ")] = path
    atomic_write_json(run_dir / "metrics.json", metrics)
    page = render_report(
        title=f"{task.name}: {run_dir.name}",
        subtitle=f"data={config.get('data')}  model={config.get('model', '')}  primary metric: {task.primary_metric}",
        comparison=comparison_rows(task, metrics),
        plots=plot_files,
        tables=evaluation.tables,
        facts=summary,
        config=config,
        headline=headline,
    )
    atomic_write_bytes(run_dir / "report.html", page.encode("utf-8"))


def comparison_rows(task: Task, metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row for the model and one per baseline, over the scalar metrics they share."""
    scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    rows = [{"model": "torchworks", **scalars}]
    for name, values in (metrics.get("baselines") or {}).items():
        rows.append({"model": name, **{k: values.get(k, "") for k in scalars}})
    return rows
