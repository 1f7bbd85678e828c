"""The backtest's error-by-horizon plot shows the model beside ARIMA and ETS, the strongest baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from torchworks.tasks.forecasting.config import ForecastingConfig
from torchworks.tasks.forecasting.data import prepare_forecast_data
from torchworks.tasks.forecasting.evaluation import baseline_curves, evaluate_forecasts
from torchworks.tasks.forecasting.task import Forecasting

HORIZON = 4


def _weekly(path: Path, n: int = 120) -> Path:
    steps = np.arange(n)
    pd.DataFrame({"date": pd.date_range("2020-01-04", periods=n, freq="W-SAT"),
                  "sales": 100 + 8 * np.sin(2 * np.pi * steps / 13) + 0.2 * steps}).to_csv(path, index=False)
    return path


@pytest.fixture
def data(tmp_path):
    config = ForecastingConfig(data=str(_weekly(tmp_path / "sales.csv")), lookback=16, horizon=HORIZON, season=13,
                               progress=False)
    return prepare_forecast_data(config)


def _legend(figure) -> list[str]:
    return [text.get_text() for text in figure.axes[0].get_legend().get_texts()]


def test_the_plot_draws_the_fitted_arima_and_ets_errors_of_the_run(data):
    recorded = {name: {"mase": value, "per_horizon": {"mase": [value + step / 10 for step in range(HORIZON)]}}
                for name, value in (("naive", 2.0), ("seasonal_naive", 0.8), ("arima", 0.7), ("ets", 0.6))}
    data.baselines = recorded
    outputs = torch.zeros(len(data.test), HORIZON, 1)
    evaluation = evaluate_forecasts(outputs, data)
    figure = evaluation.figures["error_by_horizon"]
    assert _legend(figure) == ["torchworks", "naive", "seasonal naive (season 13)", "ARIMA", "ETS"]
    lines = {line.get_label(): list(line.get_ydata()) for line in figure.axes[0].get_lines()}
    assert lines["ARIMA"] == pytest.approx([0.7, 0.8, 0.9, 1.0]) and lines["ETS"] == pytest.approx([0.6, 0.7, 0.8, 0.9])
    assert lines["torchworks"] == pytest.approx(evaluation.metrics["per_horizon"]["mase"])


def test_without_recorded_baselines_the_free_ones_are_computed(data):
    windows = data.test.windows
    from torchworks.tasks.forecasting.evaluation import backtest_arrays

    actuals, scales = backtest_arrays(data, windows, HORIZON)
    curves = baseline_curves(data, windows, actuals, scales)
    assert list(curves) == ["naive", "seasonal naive (season 13)"]
    assert all(len(values) == HORIZON for values in curves.values())
    # a sine of period 13 is repeated by the seasonal naive forecast: far better than the last value
    assert np.mean(curves["seasonal naive (season 13)"]) < np.mean(curves["naive"])


def test_a_baseline_without_per_step_errors_is_left_out_of_the_plot(data):
    data.baselines = {"arima": {"mase": 0.7}, "ets": {"mase": 0.6, "per_horizon": {"mase": [0.6] * HORIZON}}}
    windows = data.test.windows
    from torchworks.tasks.forecasting.evaluation import backtest_arrays

    curves = baseline_curves(data, windows, *backtest_arrays(data, windows, HORIZON))
    assert list(curves) == ["ETS"]


def test_columns_and_season_found_in_the_data_are_the_run_s_choices(tmp_path):
    config = ForecastingConfig(data=str(_weekly(tmp_path / "sales.csv")), lookback=16, horizon=HORIZON)
    data = prepare_forecast_data(config)
    choices = Forecasting().data_choices(config, data)
    assert {key: choice.value for key, choice in choices.items()} == {"time": "date", "target": "sales",
                                                                       "season": 52}
    assert {choice.reason for choice in choices.values()} == {"detected"}
    given = config.model_copy(update={"time": "date", "season": 13})
    assert set(Forecasting().data_choices(given, data)) == {"target"}, "only what was left unset"


def test_advice_when_a_baseline_wins_names_the_linear_model_for_networks():
    assert Forecasting().baseline_advice(ForecastingConfig(data="x", model="gru")) == [
        "the linear model (model=dlinear)", "more epochs (epochs=50)"]
    assert Forecasting().baseline_advice(ForecastingConfig(data="x", epochs=40)) == ["more epochs (epochs=120)"]
