"""What is read off a trained detector before its test evaluation: how large each feature's error usually is
(so every feature counts alike in the score) and the training scores' distribution, with the threshold
chosen from it."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from torchworks.families.tabular.rows import EncodedRows, model_outputs
from torchworks.tasks.anomaly_detection.data import AnomalyData
from torchworks.tasks.anomaly_detection.scoring import contributions, scores_of
from torchworks.tasks.anomaly_detection.thresholds import decision_threshold, flagged_share, score_quantiles

CALIBRATION_ROWS = 50_000
# A category's surprise counts in units of at least 3 nats (a value twenty times less likely than in general):
# a narrow code cannot carry every one of hundreds of values, its rare misses on ordinary rows are several
# nats, and a category rebuilt perfectly on almost every row has a usual error near 0. Measured on 4 million
# ticket sales: without the floor those misses outrank every price outlier and bulk buy (average precision
# 0.08); with it 0.36, above the z-score script's 0.30.
CATEGORY_UNIT = 3.0


def calibrate_detector(model: torch.nn.Module, data: AnomalyData, config: Any) -> None:
    """Record ``feature_scale``, ``score_quantiles`` and ``decision_threshold`` in ``data.state``."""
    from torchworks.console import say

    state = data.state
    rows = _training_rows(data, config.seed)
    outputs = model_outputs(model, rows)
    if outputs.shape[1] > 1:  # per-feature errors: each divided by its usual size
        usual = usual_errors(outputs.double().numpy())
        numeric = len(state["encoding"]["numeric"])
        state["feature_scale"] = usual[:numeric] + [max(value, CATEGORY_UNIT) for value in usual[numeric:]]
    scores = scores_of(contributions(outputs, state))
    state["score_quantiles"] = score_quantiles(scores)
    threshold, how = decision_threshold(state)
    state["decision_threshold"] = float(threshold)
    say(f"anomaly threshold {threshold:.4g} ({how}): flags {flagged_share(state, threshold):.2%} of training rows")


def usual_errors(errors: np.ndarray, share: float = 0.95) -> list[float]:
    """Each feature's usual error on the training rows: the mean of its errors up to their ``share`` quantile,
    so that the anomalies among the training rows (a bulk buy's error is thousands of times a normal one) do
    not inflate it and hide the next ones."""
    cut = np.quantile(errors, share, axis=0)
    usual = np.where(errors <= cut, errors, np.nan)
    return [max(float(value), 1e-6) for value in np.nanmean(usual, axis=0)]


def _training_rows(data: AnomalyData, seed: int) -> EncodedRows:
    train = data.train
    if len(train) <= CALIBRATION_ROWS:
        return EncodedRows(data.encoded["train"])
    chosen = np.sort(np.random.default_rng(seed).choice(len(train), CALIBRATION_ROWS, replace=False))
    from torchworks.families.tabular.encoding import Encoded

    encoded = data.encoded["train"]
    return EncodedRows(Encoded(encoded.numeric[chosen], encoded.categorical[chosen]))
