"""Run the model over a dataset (test-set evaluation, prediction) and write what a person looks at:
metrics, plots, report."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from torchworks.batches import join_batches, to_cpu_float, to_device
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
            inputs = to_device(inputs, next(model.parameters(), torch.zeros(0)).device)
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
                     config: TrainConfig, *, latency: bool = False) -> Evaluation:
    """The task's evaluation of ``model`` (a module or an export's runner) on the test split, fed to
    its streaming evaluator one batch at a time: no more than a batch of outputs is held here.

    The pass times itself: ``evaluation.speed`` holds the samples, the batch size, the wall-clock
    seconds of the whole pass (reading, model, metrics) and those of the model alone; with ``latency``,
    also the eager model's time per sample at batch 1 (:func:`batch1_latency`).
    """
    if isinstance(model, torch.nn.Module):
        model.eval()
    evaluator = task.evaluator(data, config)
    samples = batches = 0
    model_seconds = 0.0
    started = time.perf_counter()
    for inputs, targets in labelled_batches(task, data.test, config.batch_size):
        before = time.perf_counter()
        outputs = run_model(model, inputs)
        model_seconds += time.perf_counter() - before
        samples += _batch_length(targets, outputs)
        batches += 1
        evaluator.update(outputs, targets)
    seconds = time.perf_counter() - started  # the pass itself; compute() draws figures, not counted
    evaluation = evaluator.compute()
    speed: dict[str, Any] = {"device": _device_of(model), "threads": torch.get_num_threads(),
                             "batch_size": config.batch_size, "test_samples": samples,
                             "test_seconds": round(seconds, 6)}
    if samples:
        speed["test_ms_per_sample"] = round(1000 * seconds / samples, 4)
        speed["model_ms_per_sample"] = round(1000 * model_seconds / samples, 4)
    if latency and samples and isinstance(model, torch.nn.Module):
        speed.update(batch1_latency(task, model, data.test))
    evaluation.speed = speed
    return evaluation


LATENCY_CALLS = 16  # batch-1 calls timed after the test pass (on the first test samples), at most
LATENCY_SECONDS = 3.0  # and for about this long at most (a large model on a CPU stops sooner)


def batch1_latency(task: Task, model: torch.nn.Module, dataset: Dataset) -> dict[str, Any]:
    """The model's time for one sample at batch 1 on the first test samples: ``batch1_ms`` (median),
    ``batch1_p90_ms`` and ``batch1_calls``, after two warm-up calls. Inputs are read before the clock
    starts; the time is the model's call and its outputs' move to the CPU."""
    count = min(len(dataset), LATENCY_CALLS)  # type: ignore[arg-type]
    loader = DataLoader(torch.utils.data.Subset(dataset, range(count)), batch_size=1, shuffle=False,
                        collate_fn=task.collate_fn(labelled=True))
    inputs = [batch[0] for batch in loader]
    for item in inputs[:2]:
        run_model(model, item)  # warm-up: the first calls allocate and pick kernels
    times: list[float] = []
    deadline = time.perf_counter() + LATENCY_SECONDS
    for item in inputs:
        before = time.perf_counter()
        run_model(model, item)
        times.append(time.perf_counter() - before)
        if len(times) >= 3 and time.perf_counter() > deadline:
            break
    times.sort()
    return {"batch1_ms": round(1000 * times[len(times) // 2], 4),
            "batch1_p90_ms": round(1000 * times[min(len(times) - 1, int(0.9 * len(times)))], 4),
            "batch1_calls": len(times)}


def _batch_length(targets: Any, outputs: Any) -> int:
    """How many samples a batch holds: its targets' length (a tensor's first dimension, a list's
    length), else its outputs'."""
    for value in (targets, outputs):
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            return int(value.shape[0])
        if isinstance(value, (list, tuple)):
            return len(value)
        if isinstance(value, dict) and value:
            return _batch_length(next(iter(value.values())), None)
    return 0


def _device_of(model: Any) -> str:
    if isinstance(model, torch.nn.Module):
        parameter = next(model.parameters(), None)
        return parameter.device.type if parameter is not None else "cpu"
    return "cpu"


def speed_rows(speed: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's table of ``Evaluation.speed``: the test pass, the model alone in it, and batch 1."""
    if not speed.get("test_samples"):
        return []
    where = f"{speed.get('device', 'cpu')}, {_threads(speed)}"
    samples, seconds = speed["test_samples"], speed["test_seconds"]
    rows = [{"measured": "test pass: reading, model and metrics", "samples": samples,
             "batch size": speed["batch_size"], "seconds": seconds, "ms per sample": speed["test_ms_per_sample"],
             "samples/s": samples / seconds if seconds else None, "on": where},
            {"measured": "the model alone, in the test pass", "samples": samples, "batch size": speed["batch_size"],
             "seconds": speed["model_ms_per_sample"] * samples / 1000, "ms per sample": speed["model_ms_per_sample"],
             "samples/s": 1000 / speed["model_ms_per_sample"] if speed["model_ms_per_sample"] else None, "on": where}]
    if speed.get("batch1_ms"):
        rows.append({"measured": f"the model at batch 1 (median of {speed['batch1_calls']} calls; "
                                 f"90th percentile {speed['batch1_p90_ms']:.2f} ms)",
                     "samples": speed["batch1_calls"], "batch size": 1, "seconds": None,
                     "ms per sample": speed["batch1_ms"], "samples/s": 1000 / speed["batch1_ms"], "on": where})
    return rows


def speed_line(speed: dict[str, Any]) -> str | None:
    """One line for the console: ``test pass: 30 samples in 1.20 s (40.0 ms each, batch 16); ...``."""
    if not isinstance(speed, dict) or not speed.get("test_samples"):
        return None
    line = (f"test pass: {speed['test_samples']} samples in {speed['test_seconds']:.2f} s "
            f"({speed['test_ms_per_sample']:.1f} ms each, batch {speed['batch_size']}; "
            f"model {speed['model_ms_per_sample']:.1f} ms each)")
    if speed.get("batch1_ms"):
        line += f"; batch 1: {speed['batch1_ms']:.1f} ms per sample"
    return f"{line} on {speed.get('device', 'cpu')}, {_threads(speed)}"


def _threads(speed: dict[str, Any]) -> str:
    threads = speed.get("threads")
    return f"{threads} thread" + ("" if threads == 1 else "s")


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
        tables={**evaluation.tables, **_speed_table(evaluation.speed or metrics.get("speed") or {})},
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


def _speed_table(speed: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    rows = speed_rows(speed) if isinstance(speed, dict) else []
    return {"Inference speed on this machine (eager model)": rows} if rows else {}
