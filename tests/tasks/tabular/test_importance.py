"""Permutation importance per table column: the column the target depends on first, an unused one at 0, and
every feature of a column shuffled together."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from torchworks.families.tabular.encoding import Encoded
from torchworks.report.plots import close
from torchworks.tasks.tabular.importance import accuracy, importance_chart, permutation_importance, r2
from torchworks.tasks.tabular.models import TabularMLP

# "when" is a datetime column: a numeric time line and a categorical weekday, two features of one column
ENCODING = {"numeric": [{"name": "x0", "column": "x0", "source": "value", "center": 0.0, "scale": 1.0},
                        {"name": "unused", "column": "unused", "source": "value", "center": 0.0, "scale": 1.0},
                        {"name": "when.days", "column": "when", "source": "days", "center": 0.0, "scale": 1.0}],
            "categorical": [{"name": "when.weekday", "column": "when", "source": "weekday",
                             "values": [str(day) for day in range(7)]}]}
CLASSIFICATION = {"encoding": ENCODING, "task_type": "classification", "labels": ["no", "yes"]}


pytestmark = pytest.mark.usefixtures("one_thread")


class Rule(nn.Module):
    """Class 1 when x0 > 0 and the time line and the weekday of "when" agree (the weekday is index 3
    exactly when the time line is positive): a rule that only a shuffle of x0, or of one of when's two
    features without the other, can break."""

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        numeric, categorical = inputs["numeric"], inputs["categorical"]
        agree = (numeric[:, 2] > 0) == (categorical[:, 0] == 3)
        positive = (numeric[:, 0] > 0) & agree
        return torch.stack([(~positive).float(), positive.float()], dim=1)


def _rows(count: int, seed: int) -> Encoded:
    generator = np.random.default_rng(seed)
    numeric = generator.standard_normal((count, 3)).astype(np.float32)
    weekday = np.where(numeric[:, 2] > 0, 3, generator.choice([2, 4, 5], size=count))[:, None].astype(np.int64)
    return Encoded(numeric, weekday)


def test_the_deciding_column_leads_an_unused_one_scores_zero_and_a_columns_features_move_together():
    rows = _rows(1000, seed=0)
    targets = (rows.numeric[:, 0] > 0).astype(np.int64)  # the rule is right on every row
    importance = permutation_importance(Rule(), rows, targets, CLASSIFICATION, rows=600, repeats=4, seed=3)
    assert [entry["column"] for entry in importance] == ["x0", "unused", "when"]  # ties keep the input order
    by_column = {entry["column"]: entry for entry in importance}
    assert by_column["x0"]["importance"] == pytest.approx(0.5, abs=0.06)  # a shuffled x0 is right half the time
    assert by_column["x0"]["std"] > 0
    for column in ("unused", "when"):  # when's time line and weekday were shuffled with one permutation
        assert by_column[column] == {"column": column, "importance": 0.0, "std": 0.0}
    again = permutation_importance(Rule(), rows, targets, CLASSIFICATION, rows=600, repeats=4, seed=3)
    assert again == importance


def test_a_trained_regression_relies_on_its_informative_column():
    torch.manual_seed(0)
    rows = _rows(2000, seed=1)
    targets = (2 * rows.numeric[:, 0] + 0.1 * np.random.default_rng(2).standard_normal(2000)).astype(np.float32)
    model = TabularMLP(3, [9], 1, token_width=4, width=32, layers=2, dropout=0.0)
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-3)
    inputs = {"numeric": torch.from_numpy(rows.numeric), "categorical": torch.from_numpy(rows.categorical)}
    for _ in range(200):
        optimiser.zero_grad()
        nn.functional.mse_loss(model(inputs)[:, 0], torch.from_numpy(targets)).backward()
        optimiser.step()
    model.train()
    state = {**CLASSIFICATION, "task_type": "regression", "labels": []}
    importance = permutation_importance(model, rows, targets, state, rows=1000, repeats=3)
    assert model.training  # the mode it had is put back
    assert importance[0]["column"] == "x0" and importance[0]["importance"] > 1.0  # r2 falls from ~1 to below 0
    assert all(abs(entry["importance"]) < 0.05 for entry in importance[1:]), importance
    custom = permutation_importance(model, rows, targets, state, metric=lambda out, y: -np.abs(out[:, 0] - y).mean())
    assert custom[0]["column"] == "x0"


def test_the_scores_and_the_chart():
    assert accuracy(np.array([[0.1, 0.9], [2.0, 1.0]]), np.array([1, 1])) == 0.5
    assert r2(np.array([[1.0], [2.0], [3.0]]), np.array([1.0, 2.0, 3.0])) == pytest.approx(1.0)
    assert r2(np.array([[2.0], [2.0], [2.0]]), np.array([1.0, 2.0, 3.0])) == pytest.approx(0.0)
    importance = [{"column": f"c{i}", "importance": 1.0 / (i + 1), "std": 0.0} for i in range(25)]
    figure = importance_chart(importance, "permutation importance", "drop in accuracy")
    try:
        axis = figure.axes[0]
        assert len(axis.patches) == 20 and "5 more columns" in axis.get_title()
    finally:
        close(figure)
