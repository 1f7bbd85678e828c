"""The verdict of a run: does the model beat the best of its baselines on the task's primary metric?

Every run ends with it: one console line, a ``"verdict"`` entry in ``metrics.json`` and
``bundle.json``, and the report's headline. The comparison is the engine's and knows no task: it
reads the task's ``primary_metric`` and ``higher_is_better``; what to try when a baseline is better
comes from the task (``Task.baseline_advice``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Differences smaller than this (in the metric's own units) count as level: floating-point noise, not
#: a win. A difference of one test sample is reported as it is; judging it is the reader's part.
TIE = 1e-9


@dataclass(frozen=True)
class Verdict:
    """How the model compares with its best baseline on ``metric``.

    Attributes:
        outcome: ``"beats"``, ``"level"``, ``"behind"`` or ``"no_baseline"``.
        metric: The task's primary metric.
        higher_is_better: The metric's direction.
        model: The model's value (None when the evaluation did not produce the metric).
        best_baseline: Name of the best baseline by ``metric``, or None.
        baseline: Its value, or None.
        margin: How much better the model is, in the metric's units (negative: worse), or None.
        advice: What to try when the baseline is better (``"a smaller model (model=smallcnn)"``...).
        reason: Why there is no comparison (``"baselines=false"``...), for ``no_baseline``.
    """

    outcome: str
    metric: str
    higher_is_better: bool
    model: float | None = None
    best_baseline: str | None = None
    baseline: float | None = None
    margin: float | None = None
    advice: tuple[str, ...] = field(default_factory=tuple)
    reason: str | None = None

    @property
    def beats_baseline(self) -> bool | None:
        """True when the model is better than every baseline, None when there is none to compare with."""
        return None if self.outcome == "no_baseline" else self.outcome == "beats"

    def line(self) -> str:
        """The console line: ``verdict: beats the best baseline (svc_pixels, accuracy 0.9167) by +0.0759 accuracy``."""
        return f"verdict: {self.text()}"

    def text(self) -> str:
        """The verdict as a sentence (the console line without its ``verdict:`` prefix)."""
        if self.outcome == "no_baseline":
            text = f"no baseline to compare with ({self.reason})"
            # the model's own value, so the line says how it did (a task without baselines, object detection say)
            return text if self.model is None else f"{text}: {self.metric} {self.model:.4f} on the test split"
        best = f"{self.best_baseline}, {self.metric} {self.baseline:.4f}"
        if self.outcome == "beats":
            return f"beats the best baseline ({best}) by {self.margin:+.4f} {self.metric}{self._direction()}"
        if self.outcome == "level":
            return f"level with the best baseline ({best})"
        text = (f"the baseline is better here: {self.best_baseline} {self.metric} {self.baseline:.4f} vs model "
                f"{self.model:.4f}{self._direction()}")
        return f"{text}. Try: {', '.join(self.advice)}" if self.advice else text

    def _direction(self) -> str:
        return "" if self.higher_is_better else " (lower is better)"

    def headline(self) -> dict[str, str]:
        """The report's headline: ``{"tone": "good"|"warn"|"info", "text": ...}``."""
        tone = {"beats": "good", "behind": "warn"}.get(self.outcome, "info")
        return {"tone": tone, "text": self.text()}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, as stored under ``"verdict"`` in ``metrics.json`` and ``bundle.json``."""
        return {
            "outcome": self.outcome,
            "beats_baseline": self.beats_baseline,
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "model": self.model,
            "best_baseline": self.best_baseline,
            "baseline": self.baseline,
            "margin": self.margin,
            "advice": list(self.advice),
            "reason": self.reason,
            "text": self.text(),
        }


def judge(metrics: Mapping[str, Any], baselines: Mapping[str, Mapping[str, Any]] | None, *, metric: str,
          higher_is_better: bool, advice: list[str] | tuple[str, ...] = (),
          baselines_enabled: bool = True) -> Verdict:
    """Compare the model's ``metrics[metric]`` with the best baseline's.

    Args:
        metrics: The model's test metrics.
        baselines: ``{name: metrics}`` of the baselines on the same split.
        metric: The metric to compare (the task's primary metric).
        higher_is_better: Its direction.
        advice: What to suggest when a baseline is better (the task's ``baseline_advice``).
        baselines_enabled: False when the run was told not to fit baselines (``baselines=false``).
    """
    base = {"metric": metric, "higher_is_better": higher_is_better}
    if not baselines_enabled:
        return Verdict("no_baseline", reason="baselines=false", **base)
    model = _number(metrics.get(metric))
    if model is None:
        return Verdict("no_baseline", reason=f"the model has no {metric}", **base)
    scored = {name: value for name, values in (baselines or {}).items()
              if (value := _number(values.get(metric))) is not None}
    if not scored:
        reason = f"no baseline produced {metric}" if baselines else "this task has no baseline"
        return Verdict("no_baseline", model=model, reason=reason, **base)
    sign = 1.0 if higher_is_better else -1.0
    best = max(scored, key=lambda name: sign * scored[name])
    margin = sign * (model - scored[best])
    outcome = "beats" if margin > TIE else "behind" if margin < -TIE else "level"
    return Verdict(outcome, model=model, best_baseline=best, baseline=scored[best], margin=margin,
                   advice=tuple(advice) if outcome == "behind" else (), **base)


def run_verdict(task: Any, config: Any, metrics: Mapping[str, Any],
                baselines: Mapping[str, Mapping[str, Any]] | None) -> Verdict:
    """:func:`judge` for a run of ``task`` with ``config``: its primary metric, direction and advice."""
    return judge(metrics, baselines, metric=task.primary_metric, higher_is_better=task.higher_is_better,
                 advice=task.baseline_advice(config), baselines_enabled=bool(getattr(config, "baselines", True)))


def verdict_line(metrics: Mapping[str, Any]) -> tuple[str, str] | None:
    """The stored verdict of ``metrics`` as ``(console line, tone)``, or None when it has none."""
    stored = metrics.get("verdict")
    if not isinstance(stored, Mapping) or not stored.get("text"):
        return None
    tone = {"beats": "good", "behind": "warn"}.get(str(stored.get("outcome")), "info")
    return f"verdict: {stored['text']}", tone


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None
