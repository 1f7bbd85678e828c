"""The tabular baselines: gradient boosting and a linear model fitted on the model's training rows, scored on its
test rows with the model's metric keys (binary decisions at 0.5, regression in the target's units)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from torchworks.config.loading import resolve_config
from torchworks.families.tabular.encoding import Encoded
from torchworks.tasks.tabular import baselines
from torchworks.tasks.tabular.baselines import fit_baselines
from torchworks.tasks.tabular.config import TabularConfig
from torchworks.tasks.tabular.data import prepare_tabular_data

CLASSIFICATION_KEYS = {"accuracy", "macro_f1", "auroc", "average_precision", "log_loss", "score", "fit_seconds"}
BINARY_KEYS = CLASSIFICATION_KEYS | {"threshold", "precision", "recall", "decision"}
REGRESSION_KEYS = {"rmse", "mae", "r2", "score", "fit_seconds"}


def _prepared(tmp_path, frame: pd.DataFrame, **settings):
    frame.to_csv(tmp_path / "table.csv", index=False)
    config = resolve_config(TabularConfig, {"data": str(tmp_path / "table.csv"), "target": "target", **settings})
    return prepare_tabular_data(config), config


@pytest.fixture
def cancer() -> pd.DataFrame:
    """Breast cancer with a categorical column (one cell in twenty missing), so both kinds of input are read."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    rng = np.random.default_rng(0)
    frame.insert(0, "clinic", np.where(rng.random(len(frame)) < 0.05, None, rng.choice(["north", "south", "east"],
                                                                                          len(frame))))
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    return frame


def test_breast_cancer_baselines_score_like_the_model(tmp_path, cancer):
    data, config = _prepared(tmp_path, cancer)
    assert data.encoded["train"].categorical.shape[1] == 1 and data.state["positive"] == "malignant"
    results = fit_baselines(data, config)
    assert set(results) == {"hist_gradient_boosting", "logistic_regression"}
    for name, metrics in results.items():
        assert set(metrics) == BINARY_KEYS, name
        assert metrics["accuracy"] > 0.9 and metrics["auroc"] > 0.95 and metrics["score"] == metrics["accuracy"]
        assert 0 < metrics["log_loss"] < 0.5 and metrics["threshold"] == 0.5 and metrics["fit_seconds"] >= 0
        assert metrics["decision"] == "malignant when its probability >= 0.5"


def test_diabetes_baselines_are_measured_in_the_targets_units(tmp_path):
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame
    frame["sex"] = frame["sex"].map({1.0: "f", 2.0: "m"})
    data, config = _prepared(tmp_path, frame)
    assert data.state["task_type"] == "regression" and data.encoded["train"].categorical.shape[1] == 1
    results = fit_baselines(data, config)
    assert set(results) == {"hist_gradient_boosting", "linear_regression"}
    for metrics in results.values():
        assert set(metrics) == REGRESSION_KEYS and metrics["score"] == metrics["r2"]
        assert 35 < metrics["mae"] < metrics["rmse"] < 80  # disease progression is 25-346; standardised it would be ~1
    assert results["linear_regression"]["r2"] > 0.3 and results["hist_gradient_boosting"]["r2"] > 0.2


def test_three_classes_have_no_threshold(tmp_path):
    from sklearn.datasets import load_wine

    data, config = _prepared(tmp_path, load_wine(as_frame=True).frame)
    results = fit_baselines(data, config)
    for metrics in results.values():
        assert set(metrics) == CLASSIFICATION_KEYS and metrics["accuracy"] > 0.85


def test_balanced_class_weights_find_more_of_a_rare_class(tmp_path):
    rng = np.random.default_rng(3)
    n = 2000
    signal = rng.normal(size=n)
    frame = pd.DataFrame({"signal": signal, "noise": rng.normal(size=n),
                          "target": np.where(signal + rng.normal(0, 1, n) > 2.6, "fraud", "ok")})
    recall = {}
    for weights in ("none", "auto"):
        data, config = _prepared(tmp_path, frame, class_weights=weights)
        recall[weights] = fit_baselines(data, config)["logistic_regression"]["recall"]
    assert data.state["positive"] == "fraud" and recall["auto"] > recall["none"] + 0.2


def test_a_category_with_more_values_than_boosting_takes_still_fits(tmp_path):
    rng = np.random.default_rng(4)
    shops = np.repeat([f"shop{i}" for i in range(300)], 6)  # 300 values seen six times each
    frame = pd.DataFrame({"shop": shops, "amount": rng.normal(size=1800)})
    frame["target"] = np.where(frame["amount"] > 0, "yes", "no")
    data, config = _prepared(tmp_path, frame, max_categories=1000)
    assert data.encoded["train"].categorical.max() > 255
    metrics = fit_baselines(data, config)["hist_gradient_boosting"]
    assert metrics["accuracy"] > 0.9


def test_training_rows_are_capped_by_a_seeded_sample(monkeypatch):
    monkeypatch.setattr(baselines, "BASELINE_ROWS", 100)
    rows = baselines._training_sample(1000, seed=7)
    assert len(rows) == 100 == len(np.unique(rows)) and np.all(np.diff(rows) > 0)
    assert np.array_equal(rows, baselines._training_sample(1000, seed=7))
    assert not np.array_equal(rows, baselines._training_sample(1000, seed=8))
    assert np.array_equal(baselines._training_sample(50, seed=7), np.arange(50))


def test_no_test_rows_means_no_baselines():
    empty = Encoded(np.zeros((0, 2), np.float32), np.zeros((0, 0), np.int64))
    train = Encoded(np.zeros((10, 2), np.float32), np.zeros((10, 0), np.int64))
    data = SimpleNamespace(state={"task_type": "regression"}, encoded={"train": train, "test": empty},
                           targets={"train": np.zeros(10, np.float32), "test": np.zeros(0, np.float32)})
    assert fit_baselines(data, SimpleNamespace(seed=0)) == {}
