"""``torchworks quickstart [TASK]``: each task's built-in recipe on its bundled data, end to end."""

from __future__ import annotations

from typing import Any

from torchworks.engine.train import RunResult, train
from torchworks.tasks import get_task, list_tasks


def quickstart(task_name: str | None = None, overrides: dict[str, Any] | None = None) -> list[RunResult]:
    """Train and evaluate the recipe of one task (or of every task); returns the runs."""
    names = [get_task(task_name).name] if task_name else [cls.name for cls in list_tasks()]
    results = []
    for name in names:
        settings = {**get_task(name).quickstart_settings(), **(overrides or {})}
        results.append(train(name, settings))
    return results


def summary_rows(results: list[RunResult]) -> list[dict[str, Any]]:
    """One row per run: task, primary metric, its value, the best baseline's value, time, verdict, bundle."""
    rows = []
    for result in results:
        task = get_task(result.task)
        metric = task.primary_metric
        baselines = result.metrics.get("baselines") or {}
        scored = [(name, values[metric]) for name, values in baselines.items() if metric in values]
        pick = max if task.higher_is_better else min
        best = pick(scored, key=lambda item: item[1]) if scored else None
        rows.append(
            {
                "task": result.task,
                "metric": metric,
                "value": result.metrics.get(metric),
                "baseline": f"{best[0]} {best[1]:.4f}" if best else "-",
                "time": f"{result.seconds:.0f}s",
                "verdict": (result.metrics.get("verdict") or {}).get("text", ""),
                "bundle": str(result.path),
            }
        )
    return rows
