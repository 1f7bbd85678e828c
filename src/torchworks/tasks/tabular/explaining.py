"""Why a table row got its prediction: Shapley values (Captum's KernelShap, the default), gradient SHAP, LIME
or integrated gradients over the row's feature tokens, summed into the table's columns.

What is explained is one number per row: the probability of a class (the predicted class; for a binary
target the positive class; or ``target=LABEL``), or the predicted value in the target's units. It is
compared with the same number for a typical row, every number at its training median and every category
unknown (:func:`~torchworks.families.tabular.tokens.reference_inputs`): the record's ``base_value``. A
column's attribution is its share of ``output - base_value``.

Attribution happens on the feature tokens, not on the encoded inputs: a category index cannot be
interpolated (gradient methods need a continuous input), and a feature's token swapped for the typical
row's token is what "the model did not see this feature" means for every tabular model. The sampling
methods treat each token as one player (a ``feature_mask`` over its numbers); the gradient methods sum
over the token. A column that became several features (a datetime's time line, month, weekday and hour; a
number and its "(missing)" flag) gets the sum of its features' shares. KernelShap and integrated gradients
add up to ``output - base_value`` (up to sampling noise and ``convergence_delta``), gradient SHAP does in
expectation, LIME only roughly: ``unexplained`` says what is left over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import torch
from torch import nn

from torchworks.attribution.explainer import Explainer, Explanation, Presentation, Row, Target, explain_rows
from torchworks.attribution.values import class_named
from torchworks.families.tabular.attributions import (
    METHODS,
    Method,
    RowAttributions,
    attribute_tokens,
    column_presentation,
    significant,
)

VALUE = "value"  # the target name of a regression


def explain_table_rows(model: nn.Module, inputs: dict[str, torch.Tensor], ids: list[Any], state: dict[str, Any],
                       method: str, target: str | None, options: dict[str, str]) -> list[Explanation]:
    """One explanation per row of the batch (``{"numeric": [n, N], "categorical": [n, C]}``).

    Args:
        model: A tabular model with ``tokens`` and ``head_from_tokens``.
        inputs: The encoded rows.
        ids: One identifier per row: its ``name`` (or its text) heads the explanation; a dict ``cells``
            (column -> the cell as read), when it has one, gives the values shown beside the attributions,
            which are otherwise decoded from the encoded row.
        state: The task state (encoding, task type, labels, positive class, target scale).
        method: ``shap``, ``gradient_shap``, ``lime`` or ``integrated_gradients``.
        target: A class label to explain (classification only); None: the predicted class, or the
            positive class of a binary target.
        options: ``samples`` (shap, lime, gradient_shap), ``steps`` (integrated_gradients), as text.

    Raises:
        ConfigError: An unknown target class, or a bad option.
    """
    explainer = Explainer(
        describe=lambda identifier: {"input": _row_name(identifier)},
        predict=partial(_predict, state=state),
        resolve_target=partial(_resolve_target, state=state),
        attributors={name: partial(_attribute, method, state=state) for name, method in METHODS.items()},
        present=partial(_present, state=state))
    return explain_rows(explainer, model, inputs, ids, method, target, options)


def _row_name(identifier: Any) -> str:
    """What heads a row's explanation: its identifier's ``name`` (or ``input``, in a mapping), else its text."""
    if isinstance(identifier, Mapping):
        return str(identifier.get("name", identifier.get("input", identifier)))
    return str(getattr(identifier, "name", identifier))


def _resolve_target(text: str, *, state: dict[str, Any]) -> Target:
    """The class called ``text``; a regression has one number to explain, whatever the target says."""
    return Target(0, VALUE) if state["task_type"] == "regression" else class_named(text, state["labels"])


def _predict(model: nn.Module, row: Row, *, state: dict[str, Any]) -> tuple[dict[str, Any], Target]:
    """The row's prediction record and what is explained by default."""
    outputs = model(row.inputs)[0].float()
    if state["task_type"] == "regression":
        value = float(outputs[0]) * state["target_scale"] + state["target_center"]
        return {"value": significant(value)}, Target(0, VALUE)
    labels, probabilities = state["labels"], outputs.softmax(dim=0)
    predicted = int(probabilities.argmax())
    explained = predicted
    if len(labels) == 2 and state.get("positive") in labels:  # the positive class, decided at the threshold
        explained = labels.index(state["positive"])
        threshold = state.get("decision_threshold") or 0.5
        predicted = explained if float(probabilities[explained]) >= threshold else 1 - explained
    prediction = {"label": labels[predicted], "probability": round(float(probabilities[predicted]), 6)}
    return prediction, Target(explained, labels[explained])


def _attribute(method: Method, model: nn.Module, row: Row, target: Target, options: dict[str, str], *,
               state: dict[str, Any]) -> tuple[RowAttributions, dict[str, Any]]:
    """A method as an attributor of the shared loop: the explained class's probability, or the value."""
    return attribute_tokens(method, model, row, _explained_output(model, target.value, state), options)


def _present(row: Row, record: dict[str, Any], attributions: RowAttributions, details: dict[str, Any], *,
             state: dict[str, Any]) -> Presentation:
    unit = state["target"] if state["task_type"] == "regression" else f"probability of {record['target']}"
    return column_presentation(row, record, attributions, details, state["encoding"], unit,
                               _prediction_text(record["prediction"]))


def _explained_output(model: nn.Module, index: int, state: dict[str, Any]) -> Callable[[torch.Tensor], torch.Tensor]:
    """Tokens ``[n, features, width]`` -> the explained number per row: the probability of class ``index``,
    or the predicted value in the target's units."""
    regression = state["task_type"] == "regression"

    def forward(tokens: torch.Tensor) -> torch.Tensor:
        outputs = model.head_from_tokens(tokens).float()
        if regression:
            return outputs[:, 0] * state["target_scale"] + state["target_center"]
        return outputs.softmax(dim=-1)[:, index]

    return forward


def _prediction_text(prediction: dict[str, Any]) -> str:
    if "label" in prediction:
        return f"predicted {prediction['label']} ({prediction['probability']:.3f})"
    return f"predicted {prediction['value']:.4g}"
