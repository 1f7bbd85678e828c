"""Run the model over a dataset and write what a person looks at: metrics, plots, report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.apply_func import move_data_to_device
from torch.utils.data import DataLoader, Dataset

from torchworks.bundle.atomic import atomic_write, atomic_write_bytes, atomic_write_json
from torchworks.config.schema import TrainConfig
from torchworks.report.html import render_report
from torchworks.report.plots import close, training_curves
from torchworks.tasks.protocol import Evaluation, PreparedData, Task

PLOTS = "plots"


@torch.inference_mode()
def collect_outputs(
    task: Task, model: torch.nn.Module | Callable[[Any], torch.Tensor], dataset: Dataset, batch_size: int,
    with_targets: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Model outputs (and targets) for every item of ``dataset``, in order, on the CPU. ``model`` is a
    module, or a runner of an export (a callable from CPU inputs to outputs)."""
    if isinstance(model, torch.nn.Module):
        model.eval()
        device = next(model.parameters()).device
    else:
        device = torch.device("cpu")
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=task.collate_fn())
    outputs, targets = [], []
    for batch in loader:
        inputs, batch_targets = batch if with_targets else (batch, None)
        outputs.append(model(move_data_to_device(inputs, device)).float().cpu())
        if batch_targets is not None:
            targets.append(batch_targets)
    out = concatenate_outputs(outputs) if outputs else torch.empty(0)
    return out, (concatenate_outputs(targets) if targets else None)


def concatenate_outputs(batches: list[torch.Tensor]) -> torch.Tensor:
    """Batches joined along dim 0; sequence outputs of different lengths (frames, tokens) are
    zero-padded at the end of each dimension to the longest first."""
    shape = [max(b.shape[d] for b in batches) for d in range(1, batches[0].dim())]
    padded = []
    for batch in batches:
        missing = [size - have for size, have in zip(shape, batch.shape[1:])]
        if any(missing):
            pads = [amount for m in reversed(missing) for amount in (0, m)]
            batch = torch.nn.functional.pad(batch, pads)
        padded.append(batch)
    return torch.cat(padded)


def evaluate_on_test(task: Task, model: torch.nn.Module, data: PreparedData, config: TrainConfig) -> Evaluation:
    """The task's evaluation of the model on the test split."""
    outputs, targets = collect_outputs(task, model, data.test, config.batch_size)
    return task.evaluate(outputs, targets, data, config)


def write_run_outputs(
    run_dir: Path,
    task: Task,
    config: dict[str, Any],
    evaluation: Evaluation,
    metrics: dict[str, Any],
    history: list[dict[str, Any]],
    summary: dict[str, Any],
) -> None:
    """Write ``metrics.json``, ``plots/*.png`` and ``report.html`` (each atomically)."""
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
    )
    atomic_write_bytes(run_dir / "report.html", page.encode("utf-8"))


def comparison_rows(task: Task, metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row for the model and one per baseline, over the scalar metrics they share."""
    scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    rows = [{"model": "torchworks", **scalars}]
    for name, values in (metrics.get("baselines") or {}).items():
        rows.append({"model": name, **{k: values.get(k, "") for k in scalars}})
    return rows
