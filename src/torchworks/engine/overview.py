"""The runs overview (``torchworks runs [TASK]``): the runs of a task on one self-contained page, per
task the runs side by side (best highlighted), a chart of the primary metric against each run's best
baseline, every metric, the baselines, and the data and settings that tell the runs apart; links
point at each run's own report. The runs themselves come from :mod:`torchworks.engine.run_index`."""

from __future__ import annotations

import io
import os
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from torchworks.bundle.atomic import atomic_write_bytes
from torchworks.engine.run_index import (
    REPORT,
    RunSummary,
    best_run,
    find_runs,
    human_size,
    local_time,
    verdict_text,
)
from torchworks.report.html import Link, format_value, render_page

OVERVIEW = "overview.html"

_QUIET_SETTINGS = {"name", "output", "resume", "mlflow", "progress", "num_workers", "device", "data", "model"}
_BASIC_SETTINGS = ("epochs", "batch_size", "lr")


def render_overview(runs: list[RunSummary], base: Path, title: str, subtitle: str) -> str:
    """The page for ``runs`` (newest first), links relative to ``base`` (the page's folder)."""
    by_task: dict[str, list[RunSummary]] = defaultdict(list)
    for run in runs:
        by_task[run.task].append(run)
    sections: list[dict[str, Any]] = []
    for task, task_runs in by_task.items():
        sections += _task_sections(task, task_runs, base, several=len(by_task) > 1)
    return render_page(title, subtitle, sections)


def _task_sections(task: str, runs: list[RunSummary], base: Path, several: bool) -> list[dict[str, Any]]:
    prefix = f"{task}: " if several else ""
    finished = [run for run in runs if run.status == "finished"]
    best = best_run(runs)
    metric = next((run.metric for run in runs if run.metric), "")
    direction = "higher is better" if next((r.higher_is_better for r in runs if r.metric), True) else "lower is better"
    note = (f"Best: {best.name} ({metric} {format_value(metric, best.value)}, {direction}). " if best else "") + \
        "Baselines are scored on each run's own test split; runs on different data (see the fingerprint) " \
        "are not directly comparable."
    sections = [{"heading": f"{prefix}runs, newest first", "note": note, "rows": [_run_row(r, base) for r in runs],
                 "highlight": {runs.index(best)} if best else set()}]
    if finished and metric:
        chart = _chart(finished, metric, best)
        if chart:
            sections.append({"heading": f"{prefix}{metric} by run", "images": {
                f"{metric} of each finished run (bar) and of its best baseline (diamond); {direction}": chart}})
        highlight = {finished.index(best)} if best in finished else set()
        sections.append({"heading": f"{prefix}test metrics", "rows": [_metrics_row(r) for r in finished],
                         "highlight": highlight})
        baselines = [_baselines_row(r) for r in finished if r.baselines]
        if baselines:
            sections.append({"heading": f"{prefix}baselines ({metric}, test split)", "rows": baselines})
    sections.append({"heading": f"{prefix}data and settings",
                     "note": "The settings that differ between the finished runs; every run's full config is in "
                             "its bundle.json (or config.json, the settings given, while it trains).",
                     "rows": _settings_rows(runs)})
    return sections


def _run_row(run: RunSummary, base: Path) -> dict[str, Any]:
    report = run.path / REPORT
    name: Any = Link(run.name, Path(os.path.relpath(report, base)).as_posix()) if report.is_file() else run.name
    row: dict[str, Any] = {"run": name, "status": run.status, "when": local_time(run.when), "data": run.data,
                           "model": run.model}
    if run.metric:
        row[run.metric] = run.value
        row["best baseline"] = run.best_baseline
        row[f"baseline {run.metric}"] = run.baseline_value
        row["verdict"] = verdict_text(run)
    row["epochs run"] = run.epochs_run
    row["size"] = human_size(run.size_bytes)
    row["note"] = run.problem
    return row


def _scalars(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _metrics_row(run: RunSummary) -> dict[str, Any]:
    """The run's scalar test metrics, and its eager model's time per sample at batch 1 where measured."""
    speed = run.metrics.get("speed")
    latency = speed.get("batch1_ms") if isinstance(speed, dict) else None
    return {"run": run.name, **_scalars(run.metrics), **({"batch 1 ms": latency} if latency is not None else {})}


def _baselines_row(run: RunSummary) -> dict[str, Any]:
    row: dict[str, Any] = {"run": run.name, run.metric: run.value}
    for name, values in run.baselines.items():
        row[name] = values.get(run.metric)
    return row


def _settings_rows(runs: list[RunSummary]) -> list[dict[str, Any]]:
    """Data and the settings that differ between the finished runs (their resolved configs; an
    unfinished run has only the settings it was given); with one finished run, its basic ones."""
    finished = [run for run in runs if run.status == "finished"]
    keys = sorted({key for run in finished for key in run.config if key not in _QUIET_SETTINGS})
    differing = [key for key in keys if len({repr(run.config.get(key)) for run in finished}) > 1]
    if len(finished) < 2:
        differing = [key for key in _BASIC_SETTINGS if any(key in run.config for run in runs)]
    rows = []
    for run in runs:
        facts = {k: v for k, v in run.data_summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        rows.append({"run": run.name, "data": run.data, "fingerprint": run.fingerprint, **facts,
                     **{key: _setting(run.config.get(key)) for key in differing}})
    return rows


def _setting(value: Any) -> Any:
    return "" if value is None else value if isinstance(value, (int, float, str)) else str(value)


def _chart(runs: list[RunSummary], metric: str, best: RunSummary | None) -> bytes | None:
    from torchworks.report.plots import close, runs_figure

    shown = [run for run in runs if run.value is not None][:30]
    if not shown:
        return None
    figure = runs_figure([run.name for run in shown], [run.value for run in shown],
                         [run.baseline_value for run in shown], metric,
                         best.name if best is not None else None)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    close(figure)
    return buffer.getvalue()


def write_overview(root: Path, runs: list[RunSummary], task: str | None) -> Path:
    """Write the comparison page: ``root/<task>/overview.html`` for one task, ``root/overview.html``
    for all (a section per task). Atomic; it replaces only an earlier overview."""
    target = (root / task / OVERVIEW) if task is not None else root / OVERVIEW
    target.parent.mkdir(parents=True, exist_ok=True)
    page = render_overview(runs, base=target.parent, title=f"Runs of {task}" if task else "Runs",
                           subtitle=f"{len(runs)} run{'s' if len(runs) != 1 else ''} under {root}, "
                                    f"listed {local_time(datetime.now(timezone.utc))}")
    atomic_write_bytes(target, page.encode("utf-8"))
    return target


def overview(root: Path, task: str | None = None) -> tuple[list[RunSummary], Path | None]:
    """Find the runs under ``root`` (of ``task``, checked against the registered tasks, when given)
    and write their overview page. Returns the runs, newest first, and the page (None, and nothing
    written, when there are no runs)."""
    if task is not None:
        from torchworks.tasks import get_task

        task = get_task(task).name  # an unknown task is a user error with a did-you-mean
    runs = find_runs(root, task)
    return runs, write_overview(root, runs, task) if runs else None
