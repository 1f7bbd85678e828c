"""Forecast explanations: the covariate that drives the series gets the weight, at the lag it acts."""

from __future__ import annotations

import numpy as np
import pytest

from torchworks.engine.explain import explain_items
from torchworks.engine.loading import load_model
from torchworks.errors import ConfigError


@pytest.mark.parametrize("method", ["integrated_gradients", "gradient_shap"])
def test_the_driving_covariate_gets_the_weight_at_lag_one(method, driven_run):
    # sales[t] = sales[t-1] + 3 signal[t-1]: tomorrow's sales move with today's signal and nothing else.
    # Every forecaster adds the latest sales value back to its output (the level-relative wrapper), so
    # the target's own lag 1 legitimately carries the level; the test compares the covariates, where
    # the answer is unambiguous: the signal at lag 1 matters, the noise column never does.
    bundle, task, _, model = load_model(driven_run)
    data = driven_run.parent.parent.parent / "driven.csv"
    explanations = explain_items(task, model, bundle.state, [str(data)], method=method)
    assert [e.record["series"] for e in explanations] == ["s0", "s1", "s2", "s3"]
    for explanation in explanations:
        attributions = explanation.record["attributions"]
        assert attributions["features"] == ["sales", "signal", "noise"]
        assert attributions["lags"] == list(range(8, 0, -1))
        by_feature = dict(zip(attributions["features"], attributions["by_feature"]))
        assert by_feature["signal"] > 5 * by_feature["noise"], by_feature
        signal = np.abs(np.asarray(attributions["values"])[:, 1])
        assert signal.argmax() == len(signal) - 1, f"lag 1 (the last row) carries the signal: {signal}"
        assert explanation.figures["attributions"][:4] == b"\x89PNG"
        assert len(explanation.record["prediction"]["forecast"]) == 1


def test_integrated_gradients_add_up_to_the_forecast_and_a_step_can_be_chosen(driven_run):
    bundle, task, _, model = load_model(driven_run)
    data = str(driven_run.parent.parent.parent / "driven.csv")
    (first, *_) = explain_items(task, model, bundle.state, [data], target="1", options={"steps": "16"})
    attributions = first.record["attributions"]
    assert first.record["target"] == "forecast of step 1" and attributions["steps"] == 16
    assert abs(attributions["convergence_delta"]) < 1e-3
    assert attributions["explained_value"] == pytest.approx(first.record["prediction"]["forecast"][0], rel=1e-4)
    total = np.asarray(attributions["values"]).sum()
    assert attributions["explained_value"] - attributions["reference_value"] == pytest.approx(total, abs=0.02)  # values keep 4 digits
    again = explain_items(task, model, bundle.state, [data], method="gradient_shap")
    assert again[0].record["attributions"] == explain_items(task, model, bundle.state, [data],
                                                            method="gradient_shap")[0].record["attributions"]
    with pytest.raises(ConfigError, match="invalid forecast target '5'") as info:
        explain_items(task, model, bundle.state, [data], target="5")
    assert "from 1 to 1" in info.value.expected
