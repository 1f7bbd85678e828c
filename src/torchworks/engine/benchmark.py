"""The ``benchmark`` mode: the eager model against its exports, on the same inputs and threads.

For each runtime (eager, TorchScript, ONNX Runtime, and their int8 exports) it measures the latency
of one call at batch 1 and at batch 32 (p50 and p99 over repeated calls on real test inputs),
throughput at batch 32, file size, and the test metric from the export's parity gate. Threads are
fixed for every runtime (``threads``), so the table compares runtimes, not thread counts. Only exports
that passed their parity gate are timed; one that failed it, or could not be made, is a row with why.

Writes ``benchmark.json``, ``benchmark.md`` and a self-contained ``benchmark.html`` into the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from torchworks.bundle.atomic import atomic_write, atomic_write_bytes, atomic_write_json
from torchworks.bundle.exports import available_exports, expand_formats, export_results, passed_gate, verified_export
from torchworks.bundle.io import WEIGHTS, read_bundle
from torchworks.console import say
from torchworks.errors import ConfigError

BATCH_SIZES = (1, 32)


@dataclass
class BenchmarkResult:
    """The measured rows (one per runtime) and where they were written."""

    rows: list[dict[str, Any]]
    path: Path
    settings: dict[str, Any] = field(default_factory=dict)


def benchmark(run: str | Path, *, formats: str = "all", threads: int = 2, seconds: float = 2.0,
              make_exports: bool = True, on_row: Callable[[dict[str, Any]], None] = lambda row: None
              ) -> BenchmarkResult:
    """Measure the eager model and the exports named by ``formats`` of the bundle at ``run``.

    Args:
        formats: Exports to compare with eager (as for ``export``: a format, ``int8``, ``all``, a list).
        threads: Threads every runtime may use.
        seconds: Time spent measuring each runtime at each batch size (at least 10 calls).
        make_exports: Export (and parity-check) the formats the bundle does not have yet.
        on_row: Called with each row as soon as it is measured.

    Raises:
        ConfigError: Bad settings.
        BundleError: The bundle cannot be read.
    """
    from torchworks.engine.loading import load_model
    from torchworks.engine.runners import EagerRunner, load_runner_file
    from torchworks.tasks import get_task

    wanted = expand_formats(formats)
    if not (isinstance(threads, int) and threads >= 1) or not seconds > 0:
        raise ConfigError("benchmark needs threads >= 1 and seconds > 0", expected="threads=2 seconds=2",
                          got=f"threads={threads} seconds={seconds}", hint="for example threads=2 seconds=2")
    bundle = read_bundle(run)
    get_task(bundle.task).require_mode("benchmark")
    # a format whose last export failed its gate or could not be made is listed with why, not tried again
    rejected = {fmt for fmt, outcome in export_results(bundle).items() if outcome.get("status") != "passed"}
    if make_exports:
        _make_missing(bundle.path, [f for f in wanted if f not in available_exports(bundle) and f not in rejected])
    bundle, task, config, model = load_model(run)  # with the exports just recorded
    batches = _batches(task, config, bundle)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    rows = []
    try:
        # only exports that passed their parity gate are measured; the others are listed with why
        exports = {fmt: entry for fmt, entry in available_exports(bundle).items() if passed_gate(entry)}
        outcomes = export_results(bundle)
        # the eager metric as the parity gates measured it (the same data as the exports'), else as trained
        eager_metric = next((entry["parity"]["eager"] for entry in exports.values() if entry.get("parity")),
                            (bundle.manifest.get("metrics") or {}).get(task.primary_metric))
        rows.append(_measure("eager", EagerRunner(model), batches, seconds,
                             size=(bundle.path / WEIGHTS).stat().st_size, metric=eager_metric, status="-"))
        on_row(rows[-1])
        for fmt in wanted:
            if fmt not in exports:
                rows.append(_not_measured(fmt, available_exports(bundle).get(fmt), outcomes.get(fmt)))
                on_row(rows[-1])
                continue
            path, entry = verified_export(bundle, fmt)
            runner = load_runner_file(fmt, path, list(entry.get("inputs") or ["input"]), threads)
            parity = entry.get("parity") or {}
            rows.append(_measure(fmt, runner, batches, seconds, size=path.stat().st_size,
                                 metric=parity.get("export"), status=entry["status"]))
            on_row(rows[-1])
    finally:
        torch.set_num_threads(previous_threads)
    _add_speedups(rows)
    settings = {"threads": threads, "seconds": seconds, "metric": task.primary_metric,
                "batch_sizes": list(BATCH_SIZES), "torch": torch.__version__, "cpu_count": _cpus()}
    path = _write(bundle.path, task, rows, settings)
    return BenchmarkResult(rows, path, settings)


def _make_missing(run: Path, formats: list[str]) -> None:
    """Export ``formats`` (each with its parity gate); their outcomes land in ``bundle.json``."""
    from torchworks.engine.export import export

    for fmt in formats:
        say(f"exporting {fmt} first (with its parity gate)")
        export(run, fmt, on_result=lambda result: None if result.passed else say(f"{result.describe()}"))


def _not_measured(fmt: str, entry: dict[str, Any] | None, outcome: dict[str, Any] | None) -> dict[str, Any]:
    """The row of an export that is not timed: it failed its parity gate, could not be made, or was not made."""
    if outcome is not None and outcome.get("status") in ("failed", "skipped"):
        row = {"format": fmt, "status": outcome["status"], "reason": outcome.get("reason", "")}
        return {**row, "metric": outcome["export"]} if outcome.get("export") is not None else row
    if entry is not None:  # written before failed exports were removed: on disk, but never measured
        return {"format": fmt, "status": "failed", "reason": "it did not pass its parity gate"}
    return {"format": fmt, "status": "not exported", "reason": f"torchworks export RUN format={fmt} makes it"}


def _batches(task, config, bundle) -> dict[int, list[Any]]:
    """Real model inputs from the test split: several single samples, and one batch of each size."""
    from torch.utils.data import DataLoader

    data = task.prepare_data(config, state=bundle.state)
    test = data.test
    if len(test) == 0:
        raise ConfigError("the test split is empty", expected="test samples to time the model on",
                          got="0 samples", hint="benchmark a run whose data has a test split")
    batches = {}
    for size in BATCH_SIZES:
        indices = [i % len(test) for i in range(size * (16 if size == 1 else 1))]
        loader = DataLoader(torch.utils.data.Subset(test, indices), batch_size=size, collate_fn=task.collate_fn(labelled=True))
        batches[size] = [inputs for inputs, _ in loader]
    return batches


def _measure(name: str, runner, batches: dict[int, list[Any]], seconds: float, *, size: int,
             metric: float | None, status: str) -> dict[str, Any]:
    row: dict[str, Any] = {"format": name, "status": status, "size_mb": round(size / 2**20, 2)}
    median = 0.0
    for batch_size, inputs in batches.items():
        for item in inputs[:3]:
            runner(item)  # warm-up: first calls allocate and pick kernels
        latencies = []
        deadline = time.perf_counter() + seconds
        while len(latencies) < 10 or time.perf_counter() < deadline:
            item = inputs[len(latencies) % len(inputs)]
            started = time.perf_counter()
            runner(item)
            latencies.append(time.perf_counter() - started)
        latencies.sort()
        median = latencies[len(latencies) // 2]
        row[f"b{batch_size}_p50_ms"] = round(1000 * median, 4)
        row[f"b{batch_size}_p99_ms"] = round(1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 4)
        row[f"b{batch_size}_calls"] = len(latencies)
    row["throughput"] = round(max(batches) / max(median, 1e-9), 1)  # the last (largest) batch size's median
    row["metric"] = metric
    return row


def _add_speedups(rows: list[dict[str, Any]]) -> None:
    eager = rows[0]
    for row in rows:
        for batch_size in BATCH_SIZES:
            key = f"b{batch_size}_p50_ms"
            if key in row:
                row[f"b{batch_size}_speedup"] = round(eager[key] / row[key], 2)


COLUMNS = [
    ("format", "runtime"), ("status", "parity gate"), ("size_mb", "size MB"),
    ("b1_p50_ms", "batch 1 p50 ms"), ("b1_p99_ms", "batch 1 p99 ms"), ("b1_speedup", "batch 1 vs eager"),
    ("b32_p50_ms", "batch 32 p50 ms"), ("b32_p99_ms", "batch 32 p99 ms"), ("b32_speedup", "batch 32 vs eager"),
    ("throughput", "samples/s (batch 32)"), ("metric", "test metric"),
]


def markdown_table(rows: list[dict[str, Any]], metric: str) -> str:
    """The rows as a markdown table, each cell formatted for its column (``1,040 ms``, ``2.59x``,
    ``44.7 MB``; see :func:`torchworks.report.html.format_value`), blanks where nothing was measured."""
    from torchworks.report.html import format_value

    headers = [title if key != "metric" else f"test {metric}" for key, title in COLUMNS]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " if i < 2 else " ---: " for i in range(len(COLUMNS))) + "|"]
    for row in rows:
        cells = [format_value(key, row.get(key)) for key, _ in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _write(run: Path, task, rows: list[dict[str, Any]], settings: dict[str, Any]) -> Path:
    from torchworks.report.html import render_report
    from torchworks.report.plots import close

    table = markdown_table(rows, settings["metric"])
    note = (f"{settings['threads']} threads for every runtime, {settings['seconds']:g} s per measurement, "
            f"inputs from the test split; {settings['cpu_count']} CPU cores on this machine.")
    atomic_write_json(run / "benchmark.json", {"rows": rows, "settings": settings})
    atomic_write_bytes(run / "benchmark.md", f"# Benchmark: {run.name}\n\n{note}\n\n{table}\n".encode("utf-8"))
    figure = _latency_figure(rows)
    plot = run / "plots" / "benchmark_latency.png"
    plot.parent.mkdir(exist_ok=True)
    atomic_write(plot, lambda handle: figure.savefig(handle, format="png", dpi=110))
    close(figure)
    titles = dict(COLUMNS)
    page = render_report(title=f"benchmark: {run.name}", subtitle=f"{task.name}; {note}", comparison=[],
                         plots={"latency by runtime (p50, lower is better)": plot},
                         tables={"eager against exports": [{titles[k]: row.get(k, "") for k, _ in COLUMNS}
                                                           for row in rows]},
                         facts={}, config=settings)
    atomic_write_bytes(run / "benchmark.html", page.encode("utf-8"))
    return run / "benchmark.md"


def _latency_figure(rows: list[dict[str, Any]]):
    from matplotlib.figure import Figure

    measured = [row for row in rows if "b1_p50_ms" in row]
    figure = Figure(figsize=(7, 3.2))
    for position, batch_size in enumerate(BATCH_SIZES):
        axes = figure.add_subplot(1, len(BATCH_SIZES), position + 1)
        values = [row[f"b{batch_size}_p50_ms"] for row in measured]
        colours = ["#8a94a6" if row["format"] == "eager" else "#2f6fdf" if row["status"] == "passed" else "#d0542c"
                   for row in measured]
        axes.barh([row["format"] for row in measured], values, color=colours)
        axes.set_title(f"batch {batch_size}")
        axes.set_xlabel("ms per call")
        axes.invert_yaxis()
        if position:
            axes.set_yticklabels([])
    figure.tight_layout()
    return figure


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
