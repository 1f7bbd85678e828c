"""The shared explain loop on a hand-made model and description: one explanation per row in order,
targets resolved by the task, its errors passed through, the model left in the mode it had."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from torchworks.attribution.explainer import Explainer, Presentation, Row, Target, explain_rows
from torchworks.errors import ConfigError

LABELS = ["low", "high"]


class Scores(nn.Module):
    """Class scores of a row of two numbers: ``low = x0``, ``high = 2 * x1`` (gradients known)."""

    def __init__(self) -> None:
        super().__init__()
        self.dropout = nn.Dropout(0.5)  # would scramble the answers if the loop left training mode on

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.dropout(torch.stack([inputs[:, 0], 2 * inputs[:, 1]], dim=1))


def _resolve(text: str) -> Target:
    if text not in LABELS:
        raise ConfigError(f"unknown target class '{text}'", expected="low or high", got=text)
    return Target(LABELS.index(text), text)


def _predict(model: nn.Module, row: Row) -> tuple[dict, Target]:
    assert not torch.is_grad_enabled(), "the prediction runs without gradients"
    index = int(model(row.inputs)[0].argmax())
    return {"label": LABELS[index]}, Target(index, LABELS[index])


def _gradient(model: nn.Module, row: Row, target: Target, options: dict[str, str]):
    assert row.inputs.shape == (1, 2), "one row at a time, as a batch of one"
    inputs = row.inputs.detach().clone().requires_grad_()
    model(inputs)[0, target.value].backward()
    return inputs.grad[0].tolist(), {"options": dict(options)}


def _present(row: Row, record: dict, gradient: list[float], details: dict) -> Presentation:
    return Presentation({"gradient": gradient, **details}, html=f"<p>{row.identifier}</p>",
                        summary=f"{row.identifier}: {record['prediction']['label']} -> {record['target']}")


EXPLAINER = Explainer(describe=lambda identifier: {"input": identifier, "kind": "pair"}, predict=_predict,
                      resolve_target=_resolve, attributors={"gradient": _gradient}, present=_present)
ROWS = torch.tensor([[3.0, 0.0], [0.0, 5.0], [-1.0, -1.0]])


def test_one_explanation_per_row_in_order_about_its_own_prediction():
    explanations = explain_rows(EXPLAINER, Scores(), ROWS, ["a", "b", "c"], "gradient", None, {"k": "1"})
    assert [e.record["input"] for e in explanations] == ["a", "b", "c"]
    assert [e.record["target"] for e in explanations] == ["low", "high", "low"]
    first = explanations[0]
    assert first.record == {"input": "a", "kind": "pair", "prediction": {"label": "low"}, "method": "gradient",
                            "target": "low", "attributions": {"gradient": [1.0, 0.0], "options": {"k": "1"}}}
    assert list(first.record) == ["input", "kind", "prediction", "method", "target", "attributions"]
    assert explanations[1].record["attributions"]["gradient"] == [0.0, 2.0]
    assert first.summary == "a: low -> low" and first.html == "<p>a</p>" and first.figures == {}


def test_an_asked_target_is_resolved_once_by_the_task_and_explained_for_every_row():
    asked = []

    def resolve(text: str) -> Target:
        asked.append(text)
        return _resolve(text)

    explainer = Explainer(EXPLAINER.describe, _predict, resolve, EXPLAINER.attributors, _present)
    explanations = explain_rows(explainer, Scores(), ROWS, ["a", "b", "c"], "gradient", "high", {})
    assert asked == ["high"]
    assert [e.record["target"] for e in explanations] == ["high"] * 3
    assert [e.record["prediction"]["label"] for e in explanations] == ["low", "high", "low"]
    assert all(e.record["attributions"]["gradient"] == [0.0, 2.0] for e in explanations)
    # an empty target means the prediction, as when none is given
    assert [e.record["target"] for e in explain_rows(explainer, Scores(), ROWS, ["a", "b", "c"], "gradient", "",
                                                      {})] == ["low", "high", "low"]
    assert asked == ["high"]


def test_an_unknown_target_raises_the_tasks_config_error():
    with pytest.raises(ConfigError, match="unknown target class 'medium'"):
        explain_rows(EXPLAINER, Scores(), ROWS, ["a", "b", "c"], "gradient", "medium", {})


def test_dict_inputs_are_cut_into_rows_too():
    seen = []

    def predict(model: nn.Module, row: Row) -> tuple[dict, Target]:
        seen.append({name: value.tolist() for name, value in row.inputs.items()})
        return _predict(model, Row(row.inputs["x"], row.identifier))

    def attribute(model, row, target, options):
        return _gradient(model, Row(row.inputs["x"], row.identifier), target, options)

    explainer = Explainer(EXPLAINER.describe, predict, _resolve, {"gradient": attribute}, _present)
    explain_rows(explainer, Scores(), {"x": ROWS[:2], "n": torch.tensor([7, 8])}, ["a", "b"], "gradient", None, {})
    assert seen == [{"x": [[3.0, 0.0]], "n": [7]}, {"x": [[0.0, 5.0]], "n": [8]}]


@pytest.mark.parametrize("training", [True, False])
def test_the_model_is_left_in_the_mode_it_had(training):
    model = Scores().train(training)
    model.register_parameter("scale", nn.Parameter(torch.ones(1)))
    explanations = explain_rows(EXPLAINER, model, ROWS, ["a", "b", "c"], "gradient", None, {})
    assert [e.record["target"] for e in explanations] == ["low", "high", "low"], "explained in eval mode"
    assert model.training is training and model.dropout.training is training
    assert model.scale.requires_grad and model.scale.grad is None, "parameters untouched"


def test_expand_gives_several_explanations_per_row_or_a_record_without_attributions():
    """A task whose answer has parts (a detector's boxes) says per row which parts a target stands
    for: each gets its own explanation; none gets a record that says why, with nothing attributed."""
    calls = []

    def expand(prediction: dict, chosen: Target) -> list[Target]:
        calls.append((prediction["label"], chosen.name))
        if prediction["label"] == "high":
            return [Target(None, "nothing to explain: the answer is high")]
        return [Target(0, "low"), Target(1, "high")]

    def present(row: Row, record: dict, gradient, details: dict) -> Presentation:
        if gradient is None:
            return Presentation(None, summary=record["target"])
        return _present(row, record, gradient, details)

    explainer = Explainer(EXPLAINER.describe, _predict, _resolve, EXPLAINER.attributors, present, expand=expand)
    explanations = explain_rows(explainer, Scores(), ROWS, ["a", "b", "c"], "gradient", None, {})
    assert calls == [("low", "low"), ("high", "high"), ("low", "low")]
    assert [(e.record["input"], e.record["target"]) for e in explanations] == [
        ("a", "low"), ("a", "high"), ("b", "nothing to explain: the answer is high"), ("c", "low"), ("c", "high")]
    assert [e.record["attributions"] and e.record["attributions"]["gradient"] for e in explanations] == [
        [1.0, 0.0], [0.0, 2.0], None, [1.0, 0.0], [0.0, 2.0]]
    assert explanations[2].summary == "nothing to explain: the answer is high"
    # an asked target goes through expand as well
    explain_rows(explainer, Scores(), ROWS[:1], ["a"], "gradient", "high", {})
    assert calls[-1] == ("low", "high")
