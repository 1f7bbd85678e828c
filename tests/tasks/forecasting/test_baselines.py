"""Baselines: hand-checked naive forecasts and one-pass state-space forecasts equal to per-origin apply."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from torchworks.tasks.forecasting import baselines
from torchworks.tasks.forecasting.baselines import (
    classical_forecasts,
    fit_arima,
    fit_ets,
    naive_forecasts,
    seasonal_naive_forecasts,
    state_space_forecasts,
)

HORIZON = 5
SEASON = 4


def _seasonal_series(n: int = 100, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 10.0 + 0.05 * t + 2.0 * np.sin(2 * np.pi * t / SEASON) + rng.normal(0.0, 0.3, n).cumsum() * 0.3


def _per_origin(fitted, y: np.ndarray, origins: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore")
        return np.stack([np.asarray(fitted.apply(y[: o + 1]).forecast(HORIZON)) for o in origins])


def test_naive_by_hand() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert naive_forecasts(y, np.array([1, 3]), 2).tolist() == [[2.0, 2.0], [4.0, 4.0]]


def test_seasonal_naive_by_hand() -> None:
    y = np.array([10.0, 20.0, 30.0, 11.0, 21.0, 31.0, 12.0])
    # origin 4, season 3, y_hat[4 + k] = y[4 + k - 3 * ceil(k / 3)]: k=1 -> y[2], 2 -> y[3], 3 -> y[4], 4 -> y[2]
    result = seasonal_naive_forecasts(y, np.array([4]), 4, 3)
    assert result.tolist() == [[30.0, 11.0, 21.0, 30.0]]
    assert seasonal_naive_forecasts(y, np.array([2, 5]), 2, 1).tolist() == [[30.0, 30.0], [31.0, 31.0]]


def test_seasonal_naive_needs_one_season() -> None:
    with pytest.raises(ValueError):
        seasonal_naive_forecasts(np.arange(10.0), np.array([1]), 2, 4)


def _fit_seasonal_arima(y_train: np.ndarray):
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore")
        return SARIMAX(y_train, order=(1, 0, 0), seasonal_order=(0, 1, 1, SEASON), trend="c").fit(disp=False)


@pytest.mark.parametrize(
    "fit",
    [fit_arima, lambda y: fit_ets(y, SEASON), _fit_seasonal_arima],
    ids=["arima", "seasonal-ets", "seasonal-arima-with-constant"],
)
def test_one_pass_equals_per_origin_apply(fit) -> None:
    y = _seasonal_series()
    train_end = 70
    fitted = fit(y[:train_end])
    origins = np.array([train_end - 1, train_end + 3, 84, len(y) - HORIZON - 1])
    one_pass = state_space_forecasts(fitted, y, origins, HORIZON)
    np.testing.assert_allclose(one_pass, _per_origin(fitted, y, origins), rtol=1e-6, atol=1e-9)


def test_models_carry_the_seasonality() -> None:
    y = _seasonal_series()
    assert fit_ets(y[:70], SEASON).model.seasonal_periods == SEASON
    arima = fit_arima(y[:70])
    assert arima.model.simple_differencing is False  # differencing kept inside the state


def test_classical_forecasts_shapes_and_training_part_only() -> None:
    series = [_seasonal_series(80, seed=1), _seasonal_series(90, seed=2)]
    train_ends = [56, 63]
    windows = np.array([[0, 60], [1, 70], [0, 74], [1, 84]])
    forecasts, notes = classical_forecasts(series, train_ends, windows, HORIZON, SEASON, progress=False)
    assert notes == []
    assert set(forecasts) == {"naive", "seasonal_naive", "arima", "ets"}
    for values in forecasts.values():
        assert values.shape == (4, HORIZON) and np.isfinite(values).all()
    assert forecasts["naive"][1].tolist() == [series[1][70]] * HORIZON
    # the fit never sees the test part: changing it after the origin does not change the forecasts
    changed = [s.copy() for s in series]
    changed[0][75:] += 100.0
    again, _ = classical_forecasts(changed, train_ends, windows, HORIZON, SEASON, progress=False)
    np.testing.assert_allclose(again["arima"][[0, 2]], forecasts["arima"][[0, 2]], rtol=1e-9)
    np.testing.assert_allclose(again["ets"][[0, 2]], forecasts["ets"][[0, 2]], rtol=1e-9)


def test_too_short_series_is_left_out_with_a_note() -> None:
    series = [_seasonal_series(80), np.array([1.0, 2.0, 1.5, 2.5, 2.0, 3.0, 2.5, 3.5])]
    windows = np.array([[0, 60], [1, 5]])
    forecasts, notes = classical_forecasts(series, [56, 5], windows, 2, SEASON, progress=False)
    assert set(forecasts) == {"naive", "seasonal_naive"}
    assert any("arima" in note and "too short" in note for note in notes)
    assert any("ets" in note and "too short" in note for note in notes)


def test_failing_fit_is_left_out_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(y_train: np.ndarray):
        raise np.linalg.LinAlgError("singular")

    monkeypatch.setattr(baselines, "fit_arima", broken)
    series = [_seasonal_series(80)]
    forecasts, notes = classical_forecasts(series, [56], np.array([[0, 60]]), HORIZON, SEASON, progress=False)
    assert "arima" not in forecasts and {"naive", "seasonal_naive", "ets"} <= set(forecasts)
    assert len(notes) == 1 and "arima" in notes[0] and "singular" in notes[0]
