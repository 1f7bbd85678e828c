"""The parity gate: an exported model must score like the eager model on the bundle's test split.

Output differences alone do not say whether an export is usable: int8 weights move every logit a
little, and what matters is whether the answers change. The gate re-runs the task's own evaluation on
the test split, once with the eager model and once with the export, and compares the task's primary
metric. An export whose metric is worse by more than ``tolerance`` (in the metric's own units: 0.01 is
one point of accuracy or F1) fails; a failed export is recorded as such and never served by default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch

from torchworks.console import say

DEFAULT_TOLERANCE = 0.01


@dataclass
class Reference:
    """The test split and what the eager model makes of it."""

    data: Any
    outputs: torch.Tensor
    targets: Any
    metric: float


class ParityGate:
    """Compares exports against the eager model on the test split of the bundle ``bundle``.

    The test split is prepared, and the eager model evaluated on it, once, at the first check.
    """

    def __init__(self, task, config, bundle, model: torch.nn.Module):
        self.task, self.config, self.bundle, self.model = task, config, bundle, model

    @cached_property
    def reference(self) -> Reference:
        from torchworks.engine.outputs import collect_outputs

        data = self.task.prepare_data(self.config, state=self.bundle.state)
        trained_on = self.bundle.manifest.get("data", {}).get("fingerprint")
        if trained_on and data.fingerprint and trained_on != data.fingerprint:
            say(f"[yellow]warning:[/yellow] the data at '{self.config.data}' changed since this model was trained; "
                "the parity gate compares both models on the data as it is now")
        outputs, targets = collect_outputs(self.task, self.model, data.test, self.config.batch_size)
        return Reference(data, outputs, targets, self._metric(outputs, targets, data))

    def check(self, runner: Callable[[Any], torch.Tensor], tolerance: float = DEFAULT_TOLERANCE) -> dict[str, Any]:
        """The parity record of ``runner`` (an export): metric on both sides, its change, the largest
        output difference over the whole test split, and whether it passed."""
        from torchworks.engine.outputs import collect_outputs

        reference = self.reference
        outputs, _ = collect_outputs(self.task, runner, reference.data.test, self.config.batch_size)
        metric = self._metric(outputs, reference.targets, reference.data)
        delta = metric - reference.metric
        worse_by = -delta if self.task.higher_is_better else delta
        same_shape = outputs.shape == reference.outputs.shape
        difference = float((outputs - reference.outputs).abs().max()) if same_shape and outputs.numel() else (
            0.0 if same_shape else float("inf"))
        return {
            "metric": self.task.primary_metric,
            "eager": reference.metric,
            "export": metric,
            "delta": delta,
            "tolerance": tolerance,
            "max_abs_diff": difference,
            "test_samples": len(reference.data.test),
            "passed": bool(worse_by <= tolerance),  # NaN never passes
        }

    def _metric(self, outputs: torch.Tensor, targets: Any, data: Any) -> float:
        from matplotlib import pyplot

        evaluation = self.task.evaluate(outputs, targets, data, self.config)
        for figure in evaluation.figures.values():
            pyplot.close(figure)
        return float(evaluation.metrics[self.task.primary_metric])
