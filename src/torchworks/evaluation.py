"""Test-set evaluation: what a task makes of a model's test outputs (:class:`Evaluation`), built up
by a streaming :class:`Evaluator` that the engine feeds one batch at a time.

The engine never holds every test output: it calls ``update(outputs, targets)`` per batch and
``compute()`` once at the end. What the evaluator keeps between batches is the task's choice: metric
states (a confusion matrix, running sums), a bounded sample for the report, or, for tasks whose
metrics need every answer at once (per-series backtests), everything.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass
class Evaluation:
    """What a task makes of model outputs on the test set.

    Attributes:
        metrics: Flat JSON-ready metrics; the task's ``primary_metric`` must be among them.
        figures: Named matplotlib figures for ``plots/`` and the report.
        tables: Named lists of row dicts shown as tables in the report.
        speed: How fast the model went over the test split, measured by the engine, not the task
            (:func:`torchworks.engine.outputs.evaluate_on_test`); empty until it has.
    """

    metrics: dict[str, Any]
    figures: dict[str, Figure] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    speed: dict[str, Any] = field(default_factory=dict)


class Evaluator(ABC):
    """Test-set metrics, figures and tables, built up batch by batch."""

    @abstractmethod
    def update(self, outputs: Any, targets: Any) -> None:
        """Take one batch: the model's outputs (on the CPU, float) and the batch's targets."""

    @abstractmethod
    def compute(self) -> Evaluation:
        """The evaluation of everything seen so far."""


class CollectingEvaluator(Evaluator):
    """Keeps every batch and evaluates them together at the end, with ``evaluate(outputs, targets)``.

    For metrics that need all answers at once (backtests per series, corpus-level decoding). Outputs
    are joined with :func:`torchworks.batches.join_batches`, so any output structure works.
    """

    def __init__(self, evaluate: Callable[[Any, Any], Evaluation]):
        self._evaluate = evaluate
        self._outputs: list[Any] = []
        self._targets: list[Any] = []

    def update(self, outputs: Any, targets: Any) -> None:
        self._outputs.append(outputs)
        if targets is not None:
            self._targets.append(targets)

    def compute(self) -> Evaluation:
        from torchworks.batches import join_batches

        outputs = join_batches(self._outputs) if self._outputs else None
        targets = join_batches(self._targets) if self._targets else None
        return self._evaluate(outputs, targets)
