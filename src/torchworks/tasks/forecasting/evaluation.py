"""Backtest evaluation: every test origin's forecast in original units, scored per horizon step.

The test windows are a rolling-origin backtest with a fixed model: one origin per step of the test
period, each forecasting ``horizon`` steps whose actual values all lie in the test period.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from torchworks.tasks.forecasting.data import ForecastData
from torchworks.tasks.forecasting.metrics import forecast_metrics, mase_scale
from torchworks.tasks.forecasting.windows import Scaler
from torchworks.tasks.protocol import Evaluation


def backtest_arrays(data: ForecastData, windows: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Actual values (n, horizon) and the MASE scale of each window's series, in original units."""
    series = data.table.series
    actuals = np.stack([series[s].target[o + 1 : o + 1 + horizon] for s, o in windows])
    season = data.state["season"]
    scales_by_series = [mase_scale(s.target[:end], season) for s, end in zip(series, data.cuts.train_end)]
    return actuals, np.asarray([scales_by_series[s] for s, _ in windows])


def to_original_units(outputs: np.ndarray, windows: np.ndarray, data: ForecastData) -> np.ndarray:
    """Scaled model outputs (n, horizon[, q]) back to the target's units, window by window."""
    scalers = {sid: Scaler.from_state(s) for sid, s in data.state["scalers"].items()}
    ids = [s.id for s in data.table.series]
    values = np.stack([scalers[ids[s]].inverse_target(out) for out, (s, _) in zip(outputs, windows)])
    return np.sort(values, axis=-1)  # quantile heads can cross; sorting them is the monotone rearrangement


def evaluate_forecasts(outputs: torch.Tensor, data: ForecastData) -> Evaluation:
    """Metrics of the model on the test windows, and the plots (with the baselines' error per step)."""
    state = data.state
    horizon, quantiles = state["horizon"], state["quantiles"]
    windows = data.test.windows
    values = to_original_units(outputs.float().numpy(), windows, data)  # (n, h, q)
    point = values[..., quantiles.index(0.5)] if quantiles else values[..., 0]
    actuals, scales = backtest_arrays(data, windows, horizon)
    metrics = {**forecast_metrics(point, actuals, scales), "test_windows": int(len(windows))}
    if quantiles:
        low, high = values[..., 0], values[..., -1]
        metrics[f"coverage_{quantiles[0]:g}_{quantiles[-1]:g}"] = float(((actuals >= low) & (actuals <= high)).mean())

    compared = baseline_curves(data, windows, actuals, scales)
    from torchworks.tasks.forecasting import plots

    figures = {
        "forecast_vs_actual": plots.forecast_vs_actual(data, windows, values, quantiles, horizon),
        "error_by_horizon": plots.error_by_horizon(metrics["per_horizon"]["mase"], compared),
        "residuals": plots.residuals(point - actuals, data, windows),
    }
    table = [
        {"step": step + 1, **{key: round(metrics["per_horizon"][key][step], 4) for key in ("rmse", "mae", "mape", "smape", "mase")}}
        for step in range(horizon)
    ]
    return Evaluation(metrics=metrics, figures=figures, tables={"error by horizon step (test backtest)": table})


def baseline_curves(data: ForecastData, windows: np.ndarray, actuals: np.ndarray,
                    scales: np.ndarray) -> dict[str, list[float]]:
    """MASE per horizon step of each baseline, by its label in the error-by-horizon plot.

    ARIMA and ETS, the strongest, come from the run's fitted baselines (``data.baselines``, which the
    engine fills when training and from the bundle when evaluating); naive and seasonal naive cost
    nothing and are computed here when the run has no baselines recorded.
    """
    from torchworks.tasks.forecasting.baselines import naive_forecasts, seasonal_naive_forecasts

    horizon, season = data.state["horizon"], data.state["season"]
    labels = {"naive": "naive", "seasonal_naive": f"seasonal naive (season {season})", "arima": "ARIMA",
              "ets": "ETS"}
    recorded = {labels[name]: values["per_horizon"]["mase"] for name, values in (data.baselines or {}).items()
                if name in labels and len((values.get("per_horizon") or {}).get("mase") or ()) == horizon}
    if recorded:
        return recorded
    cheap = {
        "naive": lambda y, origins: naive_forecasts(y, origins, horizon),
        "seasonal_naive": lambda y, origins: seasonal_naive_forecasts(y, origins, horizon, season),
    }
    curves = {}
    for name, forecast in cheap.items():
        try:
            predictions = _per_series(data, windows, horizon, forecast)
        except ValueError:  # seasonal naive needs a full season before the first test origin
            continue
        curves[labels[name]] = forecast_metrics(predictions, actuals, scales)["per_horizon"]["mase"]
    return curves


def _per_series(data: ForecastData, windows: np.ndarray, horizon: int, forecast) -> np.ndarray:
    """``forecast(y, origins)`` of one series applied to every window, keeping the windows' order."""
    result = np.empty((len(windows), horizon))
    for index, series in enumerate(data.table.series):
        mask = windows[:, 0] == index
        if mask.any():
            result[mask] = forecast(series.target, windows[mask, 1])
    return result


def baseline_metrics(data: ForecastData, config: Any, progress: bool) -> dict[str, dict[str, Any]]:
    """Naive, seasonal naive, ARIMA and ETS fitted on the training part, on the same test windows."""
    from torchworks.console import say
    from torchworks.tasks.forecasting.baselines import classical_forecasts

    horizon = data.state["horizon"]
    windows = data.test.windows
    forecasts, notes = classical_forecasts(
        [s.target for s in data.table.series], list(data.cuts.train_end), windows, horizon,
        data.state["season"], progress=progress,
    )
    for note in notes:
        say(f"[yellow]note:[/yellow] {note}")
    actuals, scales = backtest_arrays(data, windows, horizon)
    return {name: forecast_metrics(predictions, actuals, scales) for name, predictions in forecasts.items()}
