"""Forecasting figures: forecasts against actuals with intervals, error by horizon, residuals."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from torchworks.report.plots import plt
from torchworks.tasks.forecasting.data import ForecastData

MAX_SERIES_SHOWN = 3


def forecast_vs_actual(data: ForecastData, windows: np.ndarray, values: np.ndarray, quantiles: list[float],
                       horizon: int) -> Figure:
    """Per series (up to three): the recent history and test period, with forecasts from origins one
    horizon apart, so that each test step is covered once; shaded between the outer quantiles."""
    shown = sorted(set(windows[:, 0].tolist()))[:MAX_SERIES_SHOWN]
    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 3.2 * len(shown)), squeeze=False)
    middle = quantiles.index(0.5) if quantiles else 0
    for ax, index in zip(axes[:, 0], shown):
        series = data.table.series[index]
        rows = np.flatnonzero(windows[:, 0] == index)
        start = max(0, int(windows[rows[0], 1]) - 3 * horizon)
        ax.plot(series.time[start:], series.target[start:], color="black", linewidth=1.2, label="actual")
        for number, row in enumerate(rows[::horizon]):
            origin = int(windows[row, 1])
            steps = series.time[origin + 1 : origin + 1 + horizon]
            ax.plot(steps, values[row, :, middle], color="tab:blue", linewidth=1.6,
                    label="forecast" if number == 0 else None)
            if quantiles:
                ax.fill_between(steps, values[row, :, 0], values[row, :, -1], color="tab:blue", alpha=0.2,
                                label=f"{quantiles[0]:g}-{quantiles[-1]:g} interval" if number == 0 else None)
        ax.axvline(series.time[data.cuts.val_end[index]], color="grey", linestyle="--", linewidth=1)
        ax.set(title=f"{series.id or data.table.target_column}: test-period forecasts (dashed line: test start)")
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


#: How each baseline's curve is drawn: the strong ones (ARIMA, ETS) solid, the simple ones dashed.
_BASELINE_STYLES = {"ARIMA": ("tab:orange", "-", "s"), "ETS": ("tab:green", "-", "^")}


def error_by_horizon(model_mase: list[float], baselines: dict[str, list[float]]) -> Figure:
    """MASE per horizon step of the model and of the baselines (lower is better): ARIMA and ETS, the
    strongest, drawn solid; naive and seasonal naive dashed."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    steps = np.arange(1, len(model_mase) + 1)
    ax.plot(steps, model_mase, marker="o", linewidth=2.2, color="tab:blue", label="torchworks", zorder=3)
    for name, values in baselines.items():
        colour, line, marker = _BASELINE_STYLES.get(name, (None, "--", "."))
        ax.plot(steps, values, marker=marker, linestyle=line, color=colour, linewidth=1.3, label=name)
    ax.set(title="Error by horizon step (test)", xlabel="steps ahead", ylabel="MASE")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def residuals(errors: np.ndarray, data: ForecastData, windows: np.ndarray) -> Figure:
    """One-step-ahead residuals over the test period (first series) and all residuals' histogram."""
    fig, (over_time, histogram) = plt.subplots(1, 2, figsize=(10, 3.4))
    first = windows[:, 0] == windows[0, 0]
    series = data.table.series[int(windows[0, 0])]
    over_time.plot(series.time[windows[first, 1] + 1], errors[first, 0], linewidth=1)
    over_time.axhline(0, color="grey", linewidth=0.8)
    over_time.set(title="1-step residuals over the test period", ylabel="forecast - actual")
    histogram.hist(errors.ravel(), bins=40, color="tab:blue", alpha=0.8)
    histogram.set(title="All residuals (every step)", xlabel="forecast - actual")
    fig.tight_layout()
    return fig
