"""A table with a target becomes encoded splits: the kind of problem inferred, the target checked (one class,
text in a regression target, an unknown column), rows without a target left out, the split stratified."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from torchworks.config.loading import resolve_config
from torchworks.errors import ConfigError, DataError
from torchworks.tasks.tabular.config import TabularConfig
from torchworks.tasks.tabular.data import prepare_tabular_data


def _prepare(tmp_path, frame, **settings):
    frame.to_csv(tmp_path / "t.csv", index=False)
    return prepare_tabular_data(resolve_config(TabularConfig, {"data": str(tmp_path / "t.csv"), **settings}))


@pytest.fixture
def loans():
    rng = np.random.default_rng(0)
    n = 200
    return pd.DataFrame({"income": rng.normal(50, 10, n).round(1), "purpose": rng.choice(["car", "home"], n),
                         "amount": rng.uniform(1, 40, n).round(2),
                         "default": np.where(np.arange(n) % 10 == 0, "yes", "no")})


def test_a_binary_target_is_classification_with_the_rare_class_positive(tmp_path, loans):
    data = _prepare(tmp_path, loans, target="default")
    state = data.state
    assert state["task_type"] == "classification" and state["labels"] == ["no", "yes"]
    assert state["positive"] == "yes" and state["decision_threshold"] == 0.5
    sizes = {name: len(data.targets[name]) for name in ("train", "val", "test")}
    assert sum(sizes.values()) == 200 and sizes["test"] == 30
    for split in ("train", "test"):  # stratified: about one row in ten is a default in each split
        assert data.targets[split].mean() == pytest.approx(0.1, abs=0.04)


def test_a_target_of_many_numbers_is_regression_and_standardised(tmp_path, loans):
    data = _prepare(tmp_path, loans, target="amount")
    state = data.state
    assert state["task_type"] == "regression" and state["labels"] == []
    assert abs(data.targets["train"].mean()) < 1e-5 and data.targets["train"].std() == pytest.approx(1, abs=1e-3)
    assert 1 < state["target_center"] < 40 and state["target_scale"] > 5  # the training amounts' mean and spread


def test_class_weights_auto_weigh_the_rare_class_up(tmp_path, loans):
    weights = _prepare(tmp_path, loans, target="default", class_weights="auto").state["class_weights"]
    assert weights[1] / weights[0] == pytest.approx(9, rel=0.15)


def test_a_target_of_one_class_is_refused_by_name(tmp_path, loans):
    loans["default"] = "no"
    with pytest.raises(DataError, match="target column 'default'.*has one class") as error:
        _prepare(tmp_path, loans, target="default")
    assert "'no' in every row" in error.value.render()


def test_text_in_a_regression_target_names_the_line(tmp_path, loans):
    loans["amount"] = loans["amount"].astype(object)
    loans.loc[7, "amount"] = "unknown"
    with pytest.raises(DataError, match="column 'amount'.*line 9"):
        _prepare(tmp_path, loans, target="amount", task_type="regression")


def test_an_unknown_target_is_a_config_error_with_a_suggestion(tmp_path, loans):
    with pytest.raises(ConfigError, match="target column 'defualt'") as error:
        _prepare(tmp_path, loans, target="defualt")
    assert "default" in error.value.hint


def test_rows_without_a_target_are_left_out(tmp_path, loans):
    loans.loc[:9, "default"] = None
    data = _prepare(tmp_path, loans, target="default")
    assert sum(len(data.targets[name]) for name in ("train", "val", "test")) == 190


def test_the_same_state_rebuilds_the_same_test_split(tmp_path, loans):
    first = _prepare(tmp_path, loans, target="default")
    again = prepare_tabular_data(resolve_config(TabularConfig, {"data": str(tmp_path / "t.csv"),
                                                               "target": "default"}), first.state)
    assert (again.encoded["test"].numeric == first.encoded["test"].numeric).all()
    assert (again.targets["test"] == first.targets["test"]).all()
