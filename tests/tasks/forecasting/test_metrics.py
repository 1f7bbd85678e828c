"""Forecast metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from torchworks.tasks.forecasting.metrics import forecast_metrics, mase_scale


def test_mase_scale_uses_the_season() -> None:
    # |3-1|, |4-2|, |9-3| -> (2 + 2 + 6) / 3
    assert mase_scale(np.array([1.0, 2.0, 3.0, 4.0, 9.0]), 2) == pytest.approx(10 / 3)


def test_mase_scale_one_step() -> None:
    assert mase_scale(np.array([1.0, 3.0, 2.0]), 1) == pytest.approx(1.5)


def test_mase_scale_falls_back_to_one_step_when_too_short() -> None:
    # 3 values, season 3 needs 4: one-step differences 2 and 4
    assert mase_scale(np.array([1.0, 3.0, 7.0]), 3) == pytest.approx(3.0)


def test_mase_scale_falls_back_to_one_step_when_seasonal_scale_is_zero() -> None:
    y = np.array([1.0, 5.0, 1.0, 5.0, 1.0])  # repeats exactly with season 2
    assert mase_scale(y, 2) == pytest.approx(4.0)


def test_mase_scale_is_one_for_a_constant_or_tiny_series() -> None:
    assert mase_scale(np.full(10, 3.0), 4) == 1.0
    assert mase_scale(np.array([2.0]), 1) == 1.0


def test_forecast_metrics_by_hand() -> None:
    predictions = np.array([[1.0, 2.0], [0.0, 4.0]])
    actuals = np.array([[2.0, 2.0], [0.0, 2.0]])
    scales = np.array([1.0, 2.0])
    result = forecast_metrics(predictions, actuals, scales)
    # errors: [[1, 0], [0, 2]]
    assert result["mae"] == pytest.approx(0.75)
    assert result["rmse"] == pytest.approx(math.sqrt(5 / 4))
    # MAPE skips the zero actual: 100 * (1/2 + 0/2 + 2/2) / 3
    assert result["mape"] == pytest.approx(50.0)
    # sMAPE: 200*1/3, 0, 0 (both zero), 200*2/6
    assert result["smape"] == pytest.approx((200 / 3 + 200 / 3) / 4)
    # MASE: 1/1, 0/1, 0/2, 2/2
    assert result["mase"] == pytest.approx(0.5)

    per = result["per_horizon"]
    assert per["mae"] == pytest.approx([0.5, 1.0])
    assert per["rmse"] == pytest.approx([math.sqrt(0.5), math.sqrt(2.0)])
    assert per["mape"] == pytest.approx([50.0, 50.0])
    assert per["smape"] == pytest.approx([100 / 3, 100 / 3])
    assert per["mase"] == pytest.approx([0.5, 0.5])
    assert all(isinstance(v, float) for v in result.values() if not isinstance(v, dict))
    assert all(isinstance(v, float) for values in per.values() for v in values)


def test_mape_is_nan_when_every_actual_is_zero() -> None:
    result = forecast_metrics(np.array([[1.0], [0.0]]), np.zeros((2, 1)), np.ones(2))
    assert math.isnan(result["mape"]) and math.isnan(result["per_horizon"]["mape"][0])
    assert result["smape"] == pytest.approx(100.0)  # 200 and 0 (both zero)


def test_mape_step_is_nan_only_where_all_actuals_are_zero() -> None:
    result = forecast_metrics(np.array([[1.0, 3.0]]), np.array([[0.0, 4.0]]), np.ones(1))
    assert math.isnan(result["per_horizon"]["mape"][0])
    assert result["per_horizon"]["mape"][1] == pytest.approx(25.0)
    assert result["mape"] == pytest.approx(25.0)


def test_forecast_metrics_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        forecast_metrics(np.zeros((2, 3)), np.zeros((2, 2)), np.ones(2))
    with pytest.raises(ValueError):
        forecast_metrics(np.zeros((2, 3)), np.zeros((2, 3)), np.ones(3))
