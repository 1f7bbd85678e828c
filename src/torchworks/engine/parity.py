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
    """The test split and the eager model's primary metric on it."""

    data: Any
    metric: float


class ParityGate:
    """Compares exports against the eager model on the test split of the bundle ``bundle``.

    The test split is prepared, and the eager model evaluated on it, once, at the first check. Each
    check streams the split batch by batch through both models: nothing is held beyond a batch.
    """

    def __init__(self, task, config, bundle, model: torch.nn.Module):
        self.task, self.config, self.bundle, self.model = task, config, bundle, model

    @cached_property
    def reference(self) -> Reference:
        from torchworks.engine.outputs import evaluate_on_test

        data = self.task.prepare_data(self.config, state=self.bundle.state)
        trained_on = self.bundle.manifest.get("data", {}).get("fingerprint")
        if trained_on and data.fingerprint and trained_on != data.fingerprint:
            say(f"[yellow]warning:[/yellow] the data at '{self.config.data}' changed since this model was trained; "
                "the parity gate compares both models on the data as it is now")
        return Reference(data, self._metric(evaluate_on_test(self.task, self.model, data, self.config)))

    def check(self, runner: Callable[[Any], Any], tolerance: float = DEFAULT_TOLERANCE) -> dict[str, Any]:
        """The parity record of ``runner`` (an export): metric on both sides, its change, the largest
        output difference over the whole test split, and whether it passed."""
        from torchworks.batches import largest_difference
        from torchworks.engine.outputs import labelled_batches, run_model

        reference = self.reference
        self.model.eval()
        evaluator = self.task.evaluator(reference.data, self.config)
        difference = 0.0
        for inputs, targets in labelled_batches(self.task, reference.data.test, self.config.batch_size):
            outputs = run_model(runner, inputs)
            difference = max(difference, largest_difference(run_model(self.model, inputs), outputs))
            evaluator.update(outputs, targets)
        metric = self._metric(evaluator.compute())
        delta = metric - reference.metric
        worse_by = -delta if self.task.higher_is_better else delta
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

    def _metric(self, evaluation: Any) -> float:
        from matplotlib import pyplot

        for figure in evaluation.figures.values():
            pyplot.close(figure)
        return float(evaluation.metrics[self.task.primary_metric])
