"""Scores and their parts: features divided by their usual error, summed per column, and each row's top
columns named, largest first; thresholds from the kept training quantiles."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torchworks.tasks.anomaly_detection.scoring import column_parts, contributions, scores_of, top_feature_names
from torchworks.tasks.anomaly_detection.thresholds import (
    QUANTILE_LEVELS,
    decision_threshold,
    flagged_share,
    score_quantiles,
)

STATE = {"encoding": {"numeric": [{"name": "price", "column": "price"}, {"name": "price (missing)", "column": "price"},
                                  {"name": "quantity", "column": "quantity"}],
                      "categorical": [{"name": "channel", "column": "channel"}]},
         "feature_scale": [2.0, 1.0, 1.0, 0.5]}


def test_parts_are_scaled_summed_per_column_and_named_largest_first():
    outputs = torch.tensor([[4.0, 1.0, 0.5, 0.1], [0.2, 0.0, 9.0, 1.0]])
    parts = contributions(outputs, STATE)
    assert parts[0].tolist() == pytest.approx([2.0, 1.0, 0.5, 0.2])
    assert scores_of(parts).tolist() == pytest.approx([3.7, 11.1])
    assert column_parts(parts, STATE)[0].tolist() == pytest.approx([3.0, 0.5, 0.2])  # price's value and flag together
    assert top_feature_names(parts, STATE, 2).to_pylist() == ["price;quantity", "quantity;channel"]
    assert top_feature_names(parts, STATE, 0).to_pylist() == ["", ""]


def test_a_detector_without_feature_parts_names_none():
    parts = contributions(torch.tensor([[3.0], [1.0]]), STATE)
    assert scores_of(parts).tolist() == [3.0, 1.0] and top_feature_names(parts, STATE, 3).to_pylist() == ["", ""]


def test_thresholds_from_the_training_quantiles():
    scores = np.random.default_rng(0).exponential(1.0, 200_000)
    state = {"score_quantiles": score_quantiles(scores), "threshold": "auto", "contamination": None}
    q1, q3 = np.quantile(scores, [0.25, 0.75])
    auto, how = decision_threshold(state)
    assert auto == pytest.approx(q3 + 3 * (q3 - q1), rel=1e-3) and how.startswith("auto")
    assert flagged_share(state, auto) == pytest.approx((scores >= auto).mean(), abs=2e-4)
    share, _ = decision_threshold({**state, "contamination": 0.01})
    assert (scores >= share).mean() == pytest.approx(0.01, abs=2e-4)
    assert decision_threshold({**state, "threshold": "7.5"})[0] == 7.5
    assert len(QUANTILE_LEVELS) == len(state["score_quantiles"])
