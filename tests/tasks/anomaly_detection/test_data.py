"""The label column only judges: it is never an input, its anomaly value is found from its name or given,
and a label that cannot be read is refused; time in the period is not an input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from torchworks.config.loading import resolve_config
from torchworks.errors import ConfigError, DataError
from torchworks.tasks.anomaly_detection.config import AnomalyConfig
from torchworks.tasks.anomaly_detection.data import prepare_anomaly_data


def _prepare(tmp_path, frame, **settings):
    frame.to_csv(tmp_path / "t.csv", index=False)
    return prepare_anomaly_data(resolve_config(AnomalyConfig, {"data": str(tmp_path / "t.csv"), **settings}))


@pytest.fixture
def orders():
    rng = np.random.default_rng(0)
    n = 300
    flagged = np.arange(n) % 20 == 0
    return pd.DataFrame({"amount": np.where(flagged, 900.0, rng.normal(50, 5, n)).round(2),
                         "channel": rng.choice(["web", "app"], n),
                         "when": pd.date_range("2026-01-01", periods=n, freq="7h").strftime("%Y-%m-%d %H:%M"),
                         "is_ok": np.where(flagged, "no", "yes"), "fraud": flagged.astype(int)})


def test_a_label_named_like_is_ok_marks_its_false_value_and_is_never_an_input(tmp_path, orders):
    data = _prepare(tmp_path, orders, label="is_ok", drop="fraud")
    assert data.state["anomaly_value"] == "no"
    assert sum(int((values == 1).sum()) for values in data.labels.values()) == 15
    assert "is_ok" not in {column["name"] for column in data.state["columns"]}
    encoding = data.state["encoding"]
    features = {feature["name"] for feature in encoding["numeric"] + encoding["categorical"]}
    assert "when.days" not in features and "when.hour" in features  # the hour, not the place in the period


def test_a_label_of_ones_and_zeros_marks_one(tmp_path, orders):
    assert _prepare(tmp_path, orders, label="fraud", drop="is_ok").state["anomaly_value"] == "1"


def test_without_a_label_every_row_is_unlabelled(tmp_path, orders):
    data = _prepare(tmp_path, orders, drop="fraud,is_ok")
    assert all((values == -1).all() for values in data.labels.values()) and data.state["label"] is None


def test_an_unreadable_label_asks_for_the_anomaly_value(tmp_path, orders):
    orders["grade"] = np.random.default_rng(1).choice(["a", "b", "c"], len(orders))
    with pytest.raises(DataError, match="which value of label column 'grade'"):
        _prepare(tmp_path, orders, label="grade")
    assert _prepare(tmp_path, orders, label="grade", anomaly_value="c").state["anomaly_value"] == "c"
    with pytest.raises(ConfigError, match="label column 'frauds'"):
        _prepare(tmp_path, orders, label="frauds")
