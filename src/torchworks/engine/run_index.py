"""The index of run folders under an output root: what each run is (task, data, model, when, size),
how it scored against its baselines and whether it finished, for ``torchworks runs`` and its page.

Reads only what runs wrote (``bundle.json``, ``metrics.json``, ``config.json``), never a model, so it
is instant and safe on a folder of hundreds of runs. A folder it cannot read is listed as corrupt
with the reason, an unfinished one as incomplete; nothing here raises over a bad run folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from torchworks.bundle.io import FORMAT, MANIFEST
from torchworks.engine.runs import CHECKPOINTS

METRICS, CONFIG, REPORT = "metrics.json", "config.json", "report.html"
MAX_JSON_BYTES = 20 * 2**20


@dataclass
class RunSummary:
    """What the overview knows of one run folder.

    Attributes:
        status: ``finished`` (a readable bundle), ``incomplete`` (no bundle yet: still training, stopped
            or crashed; ``resumable`` says whether ``resume=true`` can continue it) or ``corrupt``.
        problem: Why a run is corrupt or incomplete, in a few words.
        when: Creation time of the bundle, else the newest file's time (UTC).
        metric: The task's primary metric and ``value`` the run's value of it on its test split.
        best_baseline: The baseline with the best value of the primary metric on the same split.
        verdict: ``metrics.json``'s verdict (``beats_baseline``, ``best_baseline``, ``margin``), if any.
    """

    path: Path
    task: str
    name: str
    status: str
    when: datetime
    size_bytes: int
    problem: str = ""
    resumable: bool = False
    data: str = ""
    model: str = ""
    metric: str = ""
    higher_is_better: bool = True
    value: float | None = None
    best_baseline: str = ""
    baseline_value: float | None = None
    verdict: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    data_summary: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    epochs_run: int | None = None


def find_runs(root: Path, task: str | None = None) -> list[RunSummary]:
    """Every run folder under ``root`` (``root/<task>/<name>``), newest first; only ``task``'s when given.

    A folder counts as a run when it holds a bundle, metrics, a config or checkpoints; other files and
    folders under the root (``mlflow.db``, MLflow's artifacts) are passed over.
    """
    if not root.is_dir():
        return []
    task_dirs = [root / task] if task is not None else sorted(p for p in root.iterdir() if p.is_dir())
    runs = []
    for task_dir in task_dirs:
        if not task_dir.is_dir():
            continue
        for folder in sorted(task_dir.iterdir()):
            if folder.is_dir() and not folder.is_symlink() and _looks_like_run(folder):
                runs.append(summarise_run(folder, task_dir.name))
    return sorted(runs, key=lambda run: run.when, reverse=True)


def _looks_like_run(folder: Path) -> bool:
    return any((folder / name).exists() for name in (MANIFEST, METRICS, CONFIG, CHECKPOINTS))


def summarise_run(folder: Path, task_name: str) -> RunSummary:
    """The summary of one run folder; a folder that cannot be read is a corrupt run, not an error."""
    summary = RunSummary(path=folder, task=task_name, name=folder.name, status="incomplete",
                         when=_newest_time(folder), size_bytes=_size_on_disk(folder))
    try:
        _fill(summary, folder)
    except _Unreadable as problem:
        summary.status, summary.problem = "corrupt", str(problem)
    return summary


class _Unreadable(Exception):
    """A run file that cannot be read; the message says which and why."""


def _fill(summary: RunSummary, folder: Path) -> None:
    summary.resumable = (folder / CHECKPOINTS / "last.ckpt").is_file()
    manifest = _read_json(folder / MANIFEST) if (folder / MANIFEST).exists() else None
    if manifest is not None:
        if manifest.get("format") != FORMAT:
            raise _Unreadable(f"{MANIFEST} is not a torchworks bundle")
        summary.status = "finished"
        summary.task = str(manifest.get("task") or summary.task)
        summary.when = _parse_time(manifest.get("created")) or summary.when
        summary.config = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
        data = manifest.get("data") if isinstance(manifest.get("data"), dict) else {}
        summary.fingerprint = str(data.get("fingerprint") or "")
        summary.data_summary = data.get("summary") if isinstance(data.get("summary"), dict) else {}
        training = manifest.get("training") if isinstance(manifest.get("training"), dict) else {}
        summary.epochs_run = training.get("epochs_run") if isinstance(training.get("epochs_run"), int) else None
    else:
        summary.problem = ("no bundle yet: training stopped or still running; resume=true name=" + folder.name
                           if summary.resumable else "no bundle: training never finished")
        settings = _read_json(folder / CONFIG).get("settings") if (folder / CONFIG).exists() else None
        summary.config = settings if isinstance(settings, dict) else {}
    metrics = _read_json(folder / METRICS) if (folder / METRICS).exists() else None
    if metrics is None and manifest is not None:
        metrics = manifest.get("metrics")
    summary.metrics = metrics if isinstance(metrics, dict) else {}
    summary.data = str(summary.config.get("data") or "")
    summary.model = str(summary.config.get("model") or "")
    _score(summary)


def _score(summary: RunSummary) -> None:
    """The primary metric, the best baseline by it, and the verdict as the run wrote it."""
    from torchworks.errors import TorchworksError
    from torchworks.tasks import get_task

    try:
        task = get_task(summary.task)
    except TorchworksError:
        return  # a task this installation does not have: its runs are listed without a score
    summary.metric, summary.higher_is_better = task.primary_metric, task.higher_is_better
    default = task.config_class.model_fields.get("model")
    if not summary.model and default is not None and default.default:  # an unfinished run given no model=
        summary.model = f"{default.default} (default)"
    summary.value = _number(summary.metrics.get(task.primary_metric))
    baselines = summary.metrics.get("baselines")
    summary.baselines = {str(k): v for k, v in baselines.items() if isinstance(v, dict)} \
        if isinstance(baselines, dict) else {}
    scored = {name: _number(values.get(task.primary_metric)) for name, values in summary.baselines.items()}
    scored = {name: value for name, value in scored.items() if value is not None}
    if scored:
        best = (max if task.higher_is_better else min)(scored, key=scored.__getitem__)
        summary.best_baseline, summary.baseline_value = best, scored[best]
    verdict = summary.metrics.get("verdict")
    summary.verdict = verdict if isinstance(verdict, dict) else None


def best_run(runs: list[RunSummary]) -> RunSummary | None:
    """The finished run with the best primary metric (None when none has one)."""
    scored = [run for run in runs if run.status == "finished" and run.value is not None]
    if not scored:
        return None
    return (max if scored[0].higher_is_better else min)(scored, key=lambda run: run.value)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise _Unreadable(f"{path.name} is larger than 20 MB")
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise _Unreadable(f"cannot read {path.name} ({getattr(error, 'strerror', None) or error})") from None
    except ValueError:
        raise _Unreadable(f"{path.name} is not valid JSON") from None
    if not isinstance(value, dict):
        raise _Unreadable(f"{path.name} is not a JSON object")
    return value


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _parse_time(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _newest_time(folder: Path) -> datetime:
    times = [folder.stat().st_mtime]
    for path in (folder / MANIFEST, folder / METRICS, folder / CONFIG, folder / CHECKPOINTS / "last.ckpt"):
        try:
            times.append(path.stat().st_mtime)
        except OSError:
            pass
    return datetime.fromtimestamp(max(times), tz=timezone.utc)


def _size_on_disk(folder: Path) -> int:
    total = 0
    for parent, _, files in os.walk(folder):  # does not follow links
        for name in files:
            try:
                total += os.lstat(os.path.join(parent, name)).st_size
            except OSError:
                pass
    return total


# --- what a person reads -----------------------------------------------------------------------


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover


def local_time(when: datetime) -> str:
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


def verdict_text(run: RunSummary) -> str:
    """``beats svc_pixels by 0.0123``, ``loses to arima by 0.33``, or blank when no verdict was written."""
    verdict = run.verdict
    if not verdict or not isinstance(verdict.get("beats_baseline"), bool):
        return ""
    baseline = str(verdict.get("best_baseline") or "the baseline")
    margin = _number(verdict.get("margin"))
    by = f" by {abs(margin):.4g}" if margin is not None else ""
    return f"beats {baseline}{by}" if verdict["beats_baseline"] else f"loses to {baseline}{by}"


def table_rows(runs: list[RunSummary]) -> list[dict[str, str]]:
    """One row of plain text per run, for the console table."""
    from torchworks.report.html import format_value

    rows = []
    for run in runs:
        metric = f"{run.metric}={format_value(run.metric, run.value)}" if run.value is not None else ""
        baseline = (f"{run.best_baseline}={format_value(run.metric, run.baseline_value)}"
                    if run.best_baseline else "")
        rows.append({"run": run.name, "task": run.task, "when": local_time(run.when), "data": _short(run.data),
                     "model": run.model, "metric": metric, "best baseline": baseline, "verdict": verdict_text(run),
                     "status": run.status, "size": human_size(run.size_bytes)})
    return rows


def text_table(rows: list[dict[str, str]]) -> str:
    """Aligned columns, a header, blank-free: what ``torchworks runs`` prints."""
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(row[c]) for row in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns).rstrip()]
    lines += ["  ".join(row[c].ljust(widths[c]) for c in columns).rstrip() for row in rows]
    return "\n".join(lines)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else "..." + text[-(limit - 3):]
