"""The ``evaluate`` mode: reload a bundle, rebuild its test split, write metrics, plots and report."""

from __future__ import annotations

import time
from pathlib import Path

from torchworks.console import say
from torchworks.engine.train import RunResult


def evaluate(run: str | Path) -> RunResult:
    """Re-evaluate the bundle at ``run`` on its test split; rewrites metrics.json, plots, report."""
    from torchworks.engine.callbacks import quiet_lightning
    from torchworks.engine.outputs import evaluate_on_test, write_run_outputs
    from torchworks.engine.loading import load_model
    from torchworks.engine.verdict import run_verdict

    started = time.perf_counter()
    quiet_lightning()
    bundle, task, config, model = load_model(run)
    data = task.prepare_data(config, state=bundle.state)
    trained_on = bundle.manifest.get("data", {}).get("fingerprint")
    if trained_on and data.fingerprint and trained_on != data.fingerprint:
        say(f"[yellow]warning:[/yellow] the data at '{config.data}' changed since this model was trained")
    baselines = bundle.manifest.get("metrics", {}).get("baselines", {})
    data.baselines = baselines
    evaluation = evaluate_on_test(task, model, data, config, latency=True)
    verdict = run_verdict(task, config, evaluation.metrics, baselines)
    metrics = {**evaluation.metrics, "baselines": baselines, "verdict": verdict.as_dict(), "speed": evaluation.speed}
    write_run_outputs(
        bundle.path, task, bundle.config, evaluation, metrics, bundle.manifest.get("history", []), data.summary,
        headline=verdict.headline(),
    )
    return RunResult(task.name, bundle.path, metrics, time.perf_counter() - started)
