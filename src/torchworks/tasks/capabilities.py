"""Capabilities a task has, and the modes that follow from them.

A task class mixes in what it can do: :class:`Explainable` (``explain``), :class:`Exportable`
(``export`` and ``benchmark``), :class:`Servable` (``serve``). ``Task.modes`` is derived from these
when the class is defined, so the engine, the CLI, the server and the contract suite read one truth
and nobody keeps a list by hand. A new capability adds a mixin and a row of ``MODES``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from torch import nn

    from torchworks.tasks.values import Explanation, ServingSpec


class Explainable(ABC):
    """A task whose answers can be attributed to the parts of its inputs (``torchworks explain``)."""

    # attribution methods ``explain`` offers, the default first
    explain_methods: ClassVar[tuple[str, ...]]
    # settings an explanation may take besides method and target (``steps``, ``layer``...)
    explain_options: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def explain(self, model: nn.Module, inputs: Any, ids: list[Any], state: dict[str, Any], method: str,
                target: str | None, options: dict[str, str]) -> list[Explanation]:
        """Attributions for one batch of model inputs (as the prediction collate makes them from
        ``predict_inputs``' dataset), one :class:`Explanation` per input.

        The engine calls this with the model in eval mode, gradients enabled and its parameters
        frozen; ``method`` is one of ``explain_methods``, ``options`` keys are among
        ``explain_options`` (values as given, usually text). ``target`` names what to explain (a
        class label, a forecast step, a transcript); None means the model's own prediction.

        Raises:
            ConfigError: A target or option value this model cannot use.
        """


    def explain_inputs(self, model: nn.Module, inputs: Any, state: dict[str, Any],
                       options: dict[str, str]) -> tuple[Any, list[Any]]:
        """The dataset and ids of the items to explain among ``inputs``: all of what ``predict_inputs``
        makes of them by default. A task whose inputs hold many items may pick some by an option (a
        table's ``rows=0:5``, or ``rows=top:20``: the rows the model scores highest, which is why the model
        is given)."""
        return self.predict_inputs(inputs, state)

    def explanation_overview(self, explanations: list[Explanation], state: dict[str, Any]) -> Explanation | None:
        """What the explanations of many inputs say together, shown before them (a table model's mean
        absolute attribution per column beside its permutation importance); None (the default) for none.
        Its ``record`` goes into ``explanations.json`` as ``overview``; its figures are PNG bytes."""
        return None


class Exportable(ABC):
    """A task whose models can be traced to ONNX and TorchScript (``export``, ``benchmark``)."""

    @abstractmethod
    def example_input(self, state: dict[str, Any]) -> Any:
        """A small batch of model inputs (a tensor, or a dict of tensors), for export and warm-up."""

    def dynamic_axes(self, state: dict[str, Any]) -> dict[str, dict[int, str]]:
        """Per input of ``example_input`` (``"input"`` for a lone tensor), the axes whose size varies
        between batches, for exports. The batch axis by default; sequence tasks add their length.
        Outputs (by their names: the model's dict keys) may be listed too, to name their free axes in
        an ONNX graph; an output not listed has a free batch axis, its other sizes as the exporter infers."""
        example = self.example_input(state)
        names = list(example) if isinstance(example, dict) else ["input"]
        return {name: {0: "batch"} for name in names}


class Servable(ABC):
    """A task whose models the REST server and its web page can serve (``serve``).

    ``predict_inputs`` must then also read :class:`~torchworks.uploads.Upload` items.
    """

    @abstractmethod
    def serving(self, state: dict[str, Any]) -> ServingSpec:
        """How a model of this task is served (see :class:`ServingSpec`)."""

    def from_json(self, item: Any, state: dict[str, Any]) -> Any:
        """One validated JSON input (of type ``serving(state).json_item``) as something
        ``predict_inputs`` reads. Never a path: a request must not name local files."""
        return item


# mode -> the capability it needs (None: every task has it), in the order modes are listed
MODES: tuple[tuple[str, type | None], ...] = (
    ("train", None),
    ("evaluate", None),
    ("predict", None),
    ("quickstart", None),
    ("explain", Explainable),
    ("export", Exportable),
    ("benchmark", Exportable),
    ("serve", Servable),
)


def modes_of(task_class: type) -> tuple[str, ...]:
    """The modes a task class supports, from the capabilities it mixes in."""
    return tuple(mode for mode, needs in MODES if needs is None or issubclass(task_class, needs))
