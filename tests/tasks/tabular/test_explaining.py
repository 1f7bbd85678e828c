"""Explanations of table rows: the column the target depends on gets the weight by every method, Shapley
values add up to the row's distance from a typical row, and a column's features count as one column."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from torchworks.errors import ConfigError
from torchworks.families.tabular.attributions import global_importance, waterfall_figure
from torchworks.report.plots import close
from torchworks.tasks.tabular.explaining import explain_table_rows
from torchworks.tasks.tabular.models import TabularMLP

METHODS = ["shap", "gradient_shap", "lime", "integrated_gradients"]
# x0 drives the target, colour a little; noise (a column with missing cells: a value and a flag) never does
ENCODING = {"numeric": [{"name": "x0", "column": "x0", "source": "value", "center": 0.0, "scale": 1.0},
                        {"name": "noise", "column": "noise", "source": "value", "center": 10.0, "scale": 2.0},
                        {"name": "noise (missing)", "column": "noise", "source": "value:missing"}],
            "categorical": [{"name": "colour", "column": "colour", "source": "value",
                             "values": ["red", "green", "blue"]}]}
CLASSIFICATION = {"encoding": ENCODING, "task_type": "classification", "labels": ["no", "yes"], "positive": "yes",
                  "decision_threshold": 0.5, "target": "y"}
REGRESSION = {"encoding": ENCODING, "task_type": "regression", "labels": [], "target": "price",
              "target_center": 100.0, "target_scale": 20.0}


pytestmark = pytest.mark.usefixtures("one_thread")


def _table(rows: int, seed: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Encoded rows and the signal behind their target: 3 * x0 plus +-0.5 for red and blue."""
    generator = torch.Generator().manual_seed(seed)
    x0, noise = torch.randn(rows, generator=generator), torch.randn(rows, generator=generator)
    flag = (torch.rand(rows, generator=generator) < 0.1).float()  # a missing cell: encoded 0, flagged
    colour = torch.randint(2, 5, (rows, 1), generator=generator)
    colour[torch.rand(rows, generator=generator) < 0.05] = 0  # rare values fold into "unknown"
    signal = 3 * x0 + torch.tensor([0.0, 0.0, 0.5, 0.0, -0.5])[colour[:, 0]]
    return {"numeric": torch.stack([x0, noise * (1 - flag), flag], dim=1), "categorical": colour}, signal


def _trained(outputs: int, loss, targets_of) -> TabularMLP:
    torch.manual_seed(0)
    inputs, signal = _table(2000, seed=0)
    targets = targets_of(signal)
    model = TabularMLP(3, [5], outputs, token_width=4, width=32, layers=2, dropout=0.0)
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-3, weight_decay=1e-4)
    for _ in range(200):
        optimiser.zero_grad()
        loss(model(inputs), targets).backward()
        optimiser.step()
    return model.eval()


@pytest.fixture(scope="module")
def classifier() -> TabularMLP:
    generator = torch.Generator().manual_seed(1)
    return _trained(2, torch.nn.functional.cross_entropy,
                    lambda signal: torch.bernoulli(torch.sigmoid(signal), generator=generator).long())


@pytest.fixture(scope="module")
def regressor() -> TabularMLP:
    return _trained(1, torch.nn.functional.mse_loss, lambda signal: (0.5 * signal + 0.1 * torch.randn(
        len(signal), generator=torch.Generator().manual_seed(1)))[:, None])


def _far_rows(count: int = 5) -> dict[str, torch.Tensor]:
    """Rows whose x0 is far from the typical row's (|x0| > 1), where x0 must carry the explanation."""
    inputs, _ = _table(200, seed=7)
    chosen = torch.nonzero(inputs["numeric"][:, 0].abs() > 1)[:count, 0]
    return {name: values[chosen] for name, values in inputs.items()}


def _explain(model, state, method="shap", target=None, options=None, ids=None):
    rows = _far_rows()
    ids = ids or [f"row {i}" for i in range(len(rows["numeric"]))]
    return explain_table_rows(model, rows, ids, state, method, target, options or {})


@pytest.mark.parametrize("method", METHODS)
def test_the_column_the_target_depends_on_leads_for_every_method(classifier, method):
    explanations = _explain(classifier, CLASSIFICATION, method)
    assert len(explanations) == 5
    for explanation in explanations:
        record = explanation.record
        assert record["method"] == method and record["target"] == "yes"  # binary: the positive class
        columns = record["attributions"]["columns"]
        assert [entry["column"] for entry in columns][0] == "x0", columns
        assert sorted(entry["column"] for entry in columns) == ["colour", "noise", "x0"]  # noise's flag joined it
        magnitudes = [abs(entry["attribution"]) for entry in columns]
        assert magnitudes == sorted(magnitudes, reverse=True)
        assert explanation.figures["waterfall"][:8] == b"\x89PNG\r\n\x1a\n"
        assert "<table>" in explanation.html and "x0" in explanation.summary
        json.dumps(record)  # what a REST answer and explanations.json carry


def test_kernel_shap_adds_up_to_the_rows_distance_from_a_typical_row(classifier):
    rows = _far_rows()
    with torch.no_grad():
        probabilities = classifier(rows).softmax(dim=1)[:, 1]
        typical = classifier({"numeric": torch.zeros(1, 3), "categorical": torch.zeros(1, 1, dtype=torch.long)})
    for explanation, probability in zip(_explain(classifier, CLASSIFICATION, options={"samples": "300"}),
                                        probabilities):
        attributions = explanation.record["attributions"]
        assert attributions["output"] == pytest.approx(float(probability), abs=1e-5)
        assert attributions["base_value"] == pytest.approx(float(typical.softmax(dim=1)[0, 1]), abs=1e-5)
        total = sum(entry["attribution"] for entry in attributions["columns"])  # shares keep 4 digits
        assert total == pytest.approx(attributions["output"] - attributions["base_value"], abs=2e-3)
        assert abs(attributions["unexplained"]) < 1e-3 and attributions["samples"] == 300


def test_integrated_gradients_add_up_within_their_convergence_delta(classifier):
    for explanation in _explain(classifier, CLASSIFICATION, "integrated_gradients", options={"steps": "64"}):
        attributions = explanation.record["attributions"]
        assert attributions["steps"] == 64
        assert attributions["unexplained"] == pytest.approx(-attributions["convergence_delta"], abs=1e-4)
        assert abs(attributions["convergence_delta"]) < 0.02


def test_another_class_can_be_explained_and_an_unknown_one_is_refused(classifier):
    positive, negative = _explain(classifier, CLASSIFICATION)[0], _explain(classifier, CLASSIFICATION, target="no")[0]
    assert negative.record["target"] == "no"
    assert negative.record["attributions"]["output"] == pytest.approx(1 - positive.record["attributions"]["output"],
                                                                      abs=1e-5)
    shares = {entry["column"]: entry["attribution"] for entry in positive.record["attributions"]["columns"]}
    for entry in negative.record["attributions"]["columns"]:  # p(no) = 1 - p(yes): every share flips its sign
        assert entry["attribution"] == pytest.approx(-shares[entry["column"]], abs=1e-3)
    with pytest.raises(ConfigError, match="unknown target class 'yse'") as info:
        _explain(classifier, CLASSIFICATION, target="yse")
    assert "yes" in info.value.hint
    with pytest.raises(ConfigError, match="invalid value for 'samples'"):
        _explain(classifier, CLASSIFICATION, options={"samples": "0"})


def test_a_regression_is_explained_in_the_targets_units(regressor):
    for explanation in _explain(regressor, REGRESSION, target="ignored"):
        record, attributions = explanation.record, explanation.record["attributions"]
        assert record["target"] == "value" and attributions["unit"] == "price"
        assert attributions["output"] == pytest.approx(record["prediction"]["value"], rel=1e-5)
        assert attributions["base_value"] == pytest.approx(100.0, abs=6.0)  # a typical row: near the mean price
        assert attributions["columns"][0]["column"] == "x0"
        total = sum(entry["attribution"] for entry in attributions["columns"])
        assert total == pytest.approx(attributions["output"] - attributions["base_value"], abs=0.05)


def test_cells_come_from_the_identifier_or_are_decoded_from_the_row(classifier):
    rows = _far_rows(2)
    rows["numeric"][0, 1:] = torch.tensor([0.0, 1.0])  # noise missing in the first row
    rows["numeric"][1, 1:] = torch.tensor([1.5, 0.0])
    rows["categorical"][:, 0] = torch.tensor([2, 0])  # red, then a value training never saw
    ids = [SimpleNamespace(name="customer 17", cells={"x0": "-1.9 (as read)", "colour": "red"}), "line 4"]
    first, second = explain_table_rows(classifier, rows, ids, CLASSIFICATION, "shap", None, {})
    assert first.record["input"] == "customer 17" and second.record["input"] == "line 4"
    cells = [{entry["column"]: entry["value"] for entry in explanation.record["attributions"]["columns"]}
             for explanation in (first, second)]
    assert cells[0] == {"x0": "-1.9 (as read)", "noise": None, "colour": "red"}
    assert cells[1]["x0"] == pytest.approx(float(rows["numeric"][1, 0]), rel=1e-5)
    assert cells[1]["noise"] == pytest.approx(13.0) and cells[1]["colour"] == "(unseen)"  # 1.5 * scale 2 + centre 10


def test_the_waterfall_shows_the_largest_columns_and_the_rest_as_one_bar():
    contributions = [(f"column {i}", 0.1 / (i + 1) * (-1) ** i) for i in range(15)]
    output = 0.3 + sum(share for _, share in contributions)
    figure = waterfall_figure(0.3, output, contributions, "row 1: yes (shap)", "probability of yes")
    try:
        axis = figure.axes[0]
        labels = [label.get_text() for label in axis.get_yticklabels()]
        assert labels[-1] == "column 0" and labels[0] == "3 other columns" and len(labels) == 13
        ends = [patch.get_x() + patch.get_width() for patch in axis.patches]
        assert ends[-1] == pytest.approx(output)  # the top bar ends at the row's output
        assert axis.patches[0].get_x() == pytest.approx(0.3)  # the bottom bar starts at the typical row's
    finally:
        close(figure)


def test_global_importance_averages_the_size_of_each_columns_share(classifier):
    explanations = _explain(classifier, CLASSIFICATION)
    importance = global_importance(explanations)
    assert [entry["column"] for entry in importance][0] == "x0"
    assert {entry["rows"] for entry in importance} == {5}
    x0 = [abs(e.record["attributions"]["columns"][0]["attribution"]) for e in explanations]
    assert importance[0]["importance"] == pytest.approx(np.mean(x0), rel=1e-4)
