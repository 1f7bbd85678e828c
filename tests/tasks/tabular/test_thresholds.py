"""The decision threshold is chosen on validation for a target precision, recall or the best F1, and can be
chosen again at prediction time from the curve the bundle keeps."""

from __future__ import annotations

import numpy as np
import pytest

from torchworks.errors import ConfigError
from torchworks.tasks.tabular.thresholds import choose_threshold, decision_threshold, validation_curve


@pytest.fixture
def curve():
    probabilities = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    truth = np.array([1, 1, 0, 1, 1, 0, 0, 1, 0, 0], dtype=bool)
    return validation_curve(probabilities, truth)


def test_the_curve_counts_precision_and_recall_at_each_threshold(curve):
    at = dict(zip(curve["thresholds"], zip(curve["precision"], curve["recall"])))
    assert at[0.9] == (1.0, 0.4)  # two rows at or above 0.9, both positive, of five positives
    assert at[0.6] == (0.8, 0.8)
    assert at[0.1] == (0.5, 1.0)


def test_precision_at_picks_the_lowest_threshold_reaching_it(curve):
    threshold, facts = choose_threshold("precision@0.8", curve)
    assert threshold == 0.6 and facts["precision"] == 0.8 and facts["recall"] == 0.8
    assert choose_threshold("precision@0.99", curve)[0] == 0.9


def test_recall_at_picks_the_highest_threshold_keeping_it(curve):
    assert choose_threshold("recall@1.0", curve)[0] == 0.3
    assert choose_threshold("recall@0.5", curve)[0] == 0.7


def test_auto_is_the_best_f1_and_a_number_is_kept(curve):
    threshold, facts = choose_threshold("auto", curve)
    assert threshold == 0.6 and facts["f1"] == 0.8
    assert choose_threshold("0.35", curve)[0] == 0.35


def test_an_unreachable_precision_is_a_config_error():
    curve = validation_curve(np.array([0.9, 0.8]), np.array([False, True]))
    with pytest.raises(ConfigError, match="no threshold reaches precision 0.99"):
        choose_threshold("precision@0.99", curve)


def test_prediction_time_settings_use_the_stored_curve(curve):
    state = {"threshold": "auto", "decision_threshold": 0.6, "threshold_choice": {"setting": "auto", "curve": curve}}
    assert decision_threshold(state) == 0.6
    assert decision_threshold({**state, "threshold": "recall@1.0"}) == 0.3
    assert decision_threshold({**state, "threshold": "0.25"}) == 0.25
