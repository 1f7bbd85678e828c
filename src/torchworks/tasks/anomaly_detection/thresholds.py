"""The score from which a row is an anomaly, without guessing how many anomalies there are: the training
scores' distribution is kept in the bundle as quantiles, and ``auto`` takes its far-out fence (Q3 + 3 x IQR,
Tukey's rule for "far out", which assumes no share of anomalies); ``contamination=F`` takes the (1 - F)
quantile, and ``threshold=SCORE`` a score. All three can change at prediction time without retraining."""

from __future__ import annotations

from typing import Any

import numpy as np

# quantile levels kept: every percent to 99%, then every hundredth of a percent (the tail is where cuts fall)
QUANTILE_LEVELS = np.unique(np.r_[np.linspace(0, 0.99, 100), np.linspace(0.99, 1, 101)]).round(6)
FENCE = 3.0


def score_quantiles(scores: np.ndarray) -> list[float]:
    """The training scores at ``QUANTILE_LEVELS``."""
    return [float(v) for v in np.quantile(scores, QUANTILE_LEVELS)]


def quantile_of(state: dict[str, Any], level: float) -> float:
    """The training score at quantile ``level`` (interpolated between the kept levels)."""
    return float(np.interp(level, QUANTILE_LEVELS, state["score_quantiles"]))


def decision_threshold(state: dict[str, Any]) -> tuple[float, str]:
    """The score from which a row is an anomaly under ``state``'s settings, and how it was chosen."""
    if state.get("contamination"):
        share = float(state["contamination"])
        return quantile_of(state, 1 - share), f"contamination={share:g}: the {1 - share:.2%} quantile of training"
    if state.get("threshold", "auto") != "auto":
        return float(state["threshold"]), "threshold= (given)"
    q1, q3 = quantile_of(state, 0.25), quantile_of(state, 0.75)
    return q3 + FENCE * (q3 - q1), "auto: Q3 + 3 x IQR of the training scores"


def flagged_share(state: dict[str, Any], threshold: float) -> float:
    """The share of training rows at or above ``threshold`` (from the kept quantiles)."""
    quantiles = np.asarray(state["score_quantiles"])
    if threshold <= quantiles[0]:
        return 1.0
    if threshold > quantiles[-1]:
        return 0.0
    return float(1 - np.interp(threshold, quantiles, QUANTILE_LEVELS))
