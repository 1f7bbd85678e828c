"""Point-forecast metrics in original units: RMSE, MAE, MAPE, sMAPE and MASE, overall and per horizon step.

All values are plain Python floats so that they can go straight into JSON. The only NaN that can
appear is MAPE (overall or for one step) when no actual value there is away from zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Actual values with ``|y|`` at or below this are left out of MAPE (division by ~zero).
MAPE_EPSILON = 1e-8


def _scale_for(y: np.ndarray, lag: int) -> float:
    """Mean absolute difference between values ``lag`` steps apart (0.0 when there is no pair)."""
    if len(y) <= lag:
        return 0.0
    return float(np.mean(np.abs(y[lag:] - y[:-lag])))


def mase_scale(y_train: np.ndarray, season: int) -> float:
    """The MASE denominator of one series: in-sample mean absolute seasonal-naive error on its training part.

    ``mean(|y[t] - y[t - m]|)`` over the training part with ``m = season``. Fallbacks, in order:

    * ``m = 1`` when the training part has fewer than ``season + 1`` values;
    * ``m = 1`` when the seasonal scale is zero (for instance a series that repeats its season exactly);
    * ``1.0`` when the one-step scale is zero too (a constant series, or fewer than two values),
      so that MASE is then the plain mean absolute error.
    """
    if season < 1:
        raise ValueError(f"season must be >= 1, got {season}")
    y = np.asarray(y_train, dtype=np.float64).ravel()
    lag = season if len(y) >= season + 1 else 1
    scale = _scale_for(y, lag)
    if scale == 0.0 and lag != 1:
        scale = _scale_for(y, 1)
    return scale if scale > 0.0 else 1.0


def _mean_or_nan(values: np.ndarray) -> float:
    """Mean of a 1-d array as a float, NaN when it is empty (without numpy's warning)."""
    return float(values.mean()) if values.size else float("nan")


def forecast_metrics(predictions: np.ndarray, actuals: np.ndarray, scales: np.ndarray) -> dict[str, Any]:
    """Metrics of point forecasts ``(n_windows, horizon)`` against the actual values, in original units.

    ``scales`` holds the MASE scale (:func:`mase_scale`) of each window's series. Returns
    ``{"rmse", "mae", "mape", "smape", "mase"}`` over all windows and steps, plus ``"per_horizon"``:
    the same five keys, each a list with one value per horizon step.

    * MAPE, in percent, averages ``100 * |p - a| / |a|`` over the actuals with ``|a| > 1e-8`` only;
      NaN when there is none.
    * sMAPE, in percent, averages ``200 * |p - a| / (|p| + |a|)``; a term where both are zero counts 0.
    * MASE averages ``|p - a| / scale`` of the window's series.
    """
    p = np.asarray(predictions, dtype=np.float64)
    a = np.asarray(actuals, dtype=np.float64)
    s = np.asarray(scales, dtype=np.float64).ravel()
    if p.ndim != 2 or p.shape != a.shape:
        raise ValueError(f"predictions {p.shape} and actuals {a.shape} must be the same (n_windows, horizon) shape")
    if s.shape != (p.shape[0],):
        raise ValueError(f"scales must have one value per window ({p.shape[0]}), got shape {s.shape}")
    if p.size == 0:
        raise ValueError("no forecasts to score")

    error = np.abs(p - a)
    valid = np.abs(a) > MAPE_EPSILON
    ape = np.where(valid, 100.0 * error / np.where(valid, np.abs(a), 1.0), 0.0)
    denominator = np.abs(p) + np.abs(a)
    sape = np.where(denominator > 0.0, 200.0 * error / np.where(denominator > 0.0, denominator, 1.0), 0.0)
    scaled = error / s[:, None]

    per_horizon = {
        "rmse": [float(v) for v in np.sqrt(np.mean(error**2, axis=0))],
        "mae": [float(v) for v in error.mean(axis=0)],
        "mape": [_mean_or_nan(ape[valid[:, k], k]) for k in range(p.shape[1])],
        "smape": [float(v) for v in sape.mean(axis=0)],
        "mase": [float(v) for v in scaled.mean(axis=0)],
    }
    return {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(error.mean()),
        "mape": _mean_or_nan(ape[valid]),
        "smape": float(sape.mean()),
        "mase": float(scaled.mean()),
        "per_horizon": per_horizon,
    }
