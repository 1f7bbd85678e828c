"""The one explain loop every task shares, and the description a task fills in for it.

For each row of a batch the loop predicts, picks what to explain (the prediction unless a target is
asked for), runs the attribution method and builds the record a person and a REST client read:

    {<the input's facts>, "prediction", "method", "target", "attributions"}

A task supplies only what is its own in an :class:`Explainer`: how an input is named, what the model
answered, how a ``target=`` text is read, its attribution methods, and how attributions are shown
(the record's ``attributions``, figures, an HTML fragment and a one-line summary). A task whose
answer has several parts (a detector's boxes) also says which parts a target stands for in each
input (``expand``): each part gets its own explanation, and an input with none gets a record saying
so instead of attributions.

Importable without torch: :class:`Explanation` is part of the task interface.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from torch import nn


@dataclass
class Explanation:
    """Why the model answered what it did for one input.

    Attributes:
        record: JSON-ready facts: ``input``, ``prediction``, ``method``, ``target`` and
            ``attributions`` (whose shape is the task's: a pixel map, token scores, lag-by-feature
            contributions, per-frame saliency). The same dict is what a REST answer carries.
        figures: Named pictures of the attributions: matplotlib figures or PNG bytes.
        html: An optional HTML fragment (highlighted tokens), shown with the figures.
        summary: One line for a person: the prediction and what weighed most.
    """

    record: dict[str, Any]
    figures: dict[str, Figure | bytes] = field(default_factory=dict)
    html: str | None = None
    summary: str = ""


@dataclass(frozen=True)
class Row:
    """One item of a batch: its model inputs (a batch of one: a tensor or a dict of tensors) and
    the identifier the task made for it (a path, a text with its line, a series and its last time)."""

    inputs: Any
    identifier: Any


class Target(NamedTuple):
    """What an explanation is about: the value the attribution method takes (a class index, forecast
    steps, a transcript, a box) and the name the record gives it. A value of None (from an
    ``expand``) means nothing in this input to attribute; the name then says why."""

    value: Any
    name: str


@dataclass(frozen=True)
class Presentation:
    """How one row's attributions are shown: the record's ``attributions``, figures, HTML, summary."""

    attributions: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)
    html: str | None = None
    summary: str = ""


Attributor = Callable[["nn.Module", Row, Target, dict[str, str]], tuple[Any, dict[str, Any]]]


@dataclass(frozen=True)
class Explainer:
    """What a task supplies to the shared loop (its preprocessing state is usually bound in).

    Attributes:
        describe: ``identifier -> facts``: the record's ``input`` and the task's own fields about it
            (``series``, ``piece``...), in the order the record shows them.
        predict: ``(model, row) -> (prediction, default target)``: the record's ``prediction`` and
            what is explained when no target is asked for. Runs without gradients.
        resolve_target: ``text -> target`` for a ``target=`` setting (never called with None or "").
            Raises ConfigError for a target the model cannot explain.
        attributors: Method name -> ``(model, row, target, options) -> (attributions, details)``.
        present: ``(row, record, attributions, details) -> Presentation``, where ``record`` holds
            every field but ``attributions``. Called with attributions None (and no details) for a
            target whose value is None.
        expand: Optional ``(prediction, target) -> targets``: what the chosen target (the default one
            from ``predict``, or the one read from ``target=``) stands for in this input, one
            explanation each (a detector's top boxes, or its best box of a class). A single target
            whose value is None says there is nothing to explain here (its name tells why). Without
            it, the chosen target is explained as it is.
    """

    describe: Callable[[Any], dict[str, Any]]
    predict: Callable[[nn.Module, Row], tuple[dict[str, Any], Target]]
    resolve_target: Callable[[str], Target]
    attributors: Mapping[str, Attributor]
    present: Callable[[Row, dict[str, Any], Any, dict[str, Any]], Presentation]
    expand: Callable[[dict[str, Any], Target], list[Target]] | None = None


def explain_rows(explainer: Explainer, model: nn.Module, inputs: Any, ids: list[Any], method: str,
                 target: str | None, options: dict[str, str]) -> list[Explanation]:
    """One explanation per row of ``inputs`` (a batch, as the task's collate made it), in order; with
    an ``expand``, one per target it gives for the row.

    Args:
        explainer: The task's description.
        model: The model; in eval mode with gradients on while explaining, then left as it was.
        inputs: A tensor or a dict of tensors, ``len(ids)`` rows.
        ids: The identifier of each row.
        method: One of ``explainer.attributors``.
        target: What to explain (read by ``explainer.resolve_target``); None or "": each prediction.
        options: The method's settings, as text.

    Raises:
        ConfigError: An unknown target (from the task's resolver) or a bad option.
    """
    import torch

    from torchworks.attribution.gradients import gradient_mode

    attribute = explainer.attributors[method]
    asked = None if target is None or target == "" else explainer.resolve_target(str(target))
    explanations = []
    with gradient_mode(model):
        for index, identifier in enumerate(ids):
            row = Row(_row(inputs, index), identifier)
            with torch.no_grad():
                prediction, predicted = explainer.predict(model, row)
            chosen = predicted if asked is None else asked
            for explained in explainer.expand(prediction, chosen) if explainer.expand else [chosen]:
                if explained.value is None:
                    attributions, details = None, {}
                else:
                    attributions, details = attribute(model, row, explained, options)
                record = {**explainer.describe(identifier), "prediction": prediction, "method": method,
                          "target": explained.name}
                shown = explainer.present(row, record, attributions, details)
                explanations.append(Explanation({**record, "attributions": shown.attributions}, shown.figures,
                                                html=shown.html, summary=shown.summary))
    return explanations


def _row(inputs: Any, index: int) -> Any:
    """Row ``index`` of a batch (a tensor, or a dict of tensors) as a batch of one."""
    if isinstance(inputs, Mapping):
        return {name: _row(value, index) for name, value in inputs.items()}
    return inputs[index : index + 1]
