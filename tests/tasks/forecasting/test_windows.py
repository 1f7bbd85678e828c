"""Time cuts, train-only scaling and windows: nothing from the future reaches a training input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from torchworks.errors import DataError
from torchworks.tasks.forecasting import windows as W
from torchworks.tasks.forecasting.frames import Series, SeriesTable

LOOKBACK, HORIZON = 12, 4


def _table(*lengths: int, covariates: int = 1, seed: int = 0) -> SeriesTable:
    rng = np.random.default_rng(seed)
    series = []
    for number, n in enumerate(lengths):
        time = pd.RangeIndex(0, n)
        target = np.cumsum(rng.normal(size=n)) + 10 * number
        series.append(Series(f"s{number}" if len(lengths) > 1 else "", time, target, rng.normal(size=(n, covariates))))
    return SeriesTable(series=series, frequency=1, time_column="t", target_column="y",
                       covariate_columns=[f"c{i}" for i in range(covariates)],
                       series_column="id" if len(lengths) > 1 else None, notes=[], source="<test>")


def _training_inputs(table: SeriesTable, fit=W.fit_scalers) -> list[torch.Tensor]:
    """Every tensor a training step can see: train windows' inputs and targets."""
    cuts = W.time_cuts(table, 0.15, 0.15, LOOKBACK, HORIZON)
    scaled = W.scaled_features(table, fit(table, cuts))
    dataset = W.WindowDataset(scaled, W.window_origins(table, cuts, "train", LOOKBACK, HORIZON), LOOKBACK, HORIZON)
    return [tensor for pair in dataset for tensor in pair]


def _full_series_scalers(table: SeriesTable, cuts: W.Cuts) -> dict[str, W.Scaler]:
    """The classic mistake: scaling fitted on the whole series, future included."""
    return {s.id: W.Scaler.fit(W.features_of(s)) for s in table.series}


def _future_changed(table: SeriesTable) -> SeriesTable:
    cuts = W.time_cuts(table, 0.15, 0.15, LOOKBACK, HORIZON)
    for series, train_end in zip(table.series, cuts.train_end):
        series.target[train_end:] += 1000.0  # validation and test values, far off
        series.covariates[train_end:] -= 50.0
    return table


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("lengths", [(200,), (200, 160, 180)])
def test_changing_future_values_changes_no_training_input(lengths):
    before = _training_inputs(_table(*lengths))
    after = _training_inputs(_future_changed(_table(*lengths)))
    assert _same(before, after)


def test_the_leakage_check_catches_a_scaler_fitted_on_the_whole_series():
    before = _training_inputs(_table(200), fit=_full_series_scalers)
    after = _training_inputs(_future_changed(_table(200)), fit=_full_series_scalers)
    assert not _same(before, after)


def test_windows_stay_inside_their_part_and_test_is_every_origin():
    table = _table(200)
    cuts = W.time_cuts(table, 0.15, 0.15, LOOKBACK, HORIZON)
    train_end, val_end = cuts.train_end[0], cuts.val_end[0]
    assert (train_end, val_end) == (140, 170)
    train = W.window_origins(table, cuts, "train", LOOKBACK, HORIZON)[:, 1]
    val = W.window_origins(table, cuts, "val", LOOKBACK, HORIZON)[:, 1]
    test = W.window_origins(table, cuts, "test", LOOKBACK, HORIZON)[:, 1]
    assert train.min() == LOOKBACK - 1 and train.max() + HORIZON == train_end - 1
    assert val.min() + 1 == train_end and val.max() + HORIZON == val_end - 1
    assert test.min() + 1 == val_end and test.max() + HORIZON == 199
    assert np.array_equal(test, np.arange(val_end - 1, 200 - HORIZON))  # rolling origin, step 1


def test_stride_thins_training_windows_but_keeps_the_latest():
    table = _table(200)
    cuts = W.time_cuts(table, 0.15, 0.15, LOOKBACK, HORIZON)
    every = W.window_origins(table, cuts, "train", LOOKBACK, HORIZON, stride=1)[:, 1]
    thinned = W.window_origins(table, cuts, "train", LOOKBACK, HORIZON, stride=5)[:, 1]
    assert thinned[0] == every[0] and thinned[-1] == every[-1] and len(thinned) < len(every) / 4


def test_scaler_uses_the_training_part_and_round_trips():
    table = _table(200)
    cuts = W.time_cuts(table, 0.15, 0.15, LOOKBACK, HORIZON)
    scaler = W.fit_scalers(table, cuts)[""]
    train = W.features_of(table.series[0])[: cuts.train_end[0]]
    assert np.allclose(scaler.mean, train.mean(axis=0)) and np.allclose(scaler.std, train.std(axis=0))
    restored = W.Scaler.from_state(scaler.to_state())
    values = table.series[0].target[:5]
    assert np.allclose(restored.inverse_target(scaler.transform(W.features_of(table.series[0]))[:5, 0]), values)


def test_a_constant_series_scales_without_dividing_by_zero():
    scaler = W.Scaler.fit(np.full((50, 1), 3.0))
    assert np.all(np.isfinite(scaler.transform(np.full((4, 1), 3.0))))


def test_dataset_items_are_the_right_slices():
    table = _table(200)
    cuts = W.time_cuts(table, 0.15, 0.15, LOOKBACK, HORIZON)
    scalers = W.fit_scalers(table, cuts)
    windows = W.window_origins(table, cuts, "test", LOOKBACK, HORIZON)
    dataset = W.WindowDataset(W.scaled_features(table, scalers), windows, LOOKBACK, HORIZON)
    inputs, targets = dataset[0]
    origin = int(windows[0, 1])
    scaled = scalers[""].transform(W.features_of(table.series[0]))
    assert inputs.shape == (LOOKBACK, 2) and targets.shape == (HORIZON,)
    assert np.allclose(inputs.numpy(), scaled[origin - LOOKBACK + 1 : origin + 1], atol=1e-6)
    assert np.allclose(targets.numpy(), scaled[origin + 1 : origin + 1 + HORIZON, 0], atol=1e-6)


def test_a_horizon_longer_than_the_test_period_is_a_clear_error():
    with pytest.raises(DataError, match="horizon is longer than the test period"):
        W.time_cuts(_table(100), 0.3, 0.1, 12, 15)


def test_a_series_too_short_for_one_training_window_is_a_clear_error():
    with pytest.raises(DataError, match="lookback \\+ horizon"):
        W.time_cuts(_table(40), 0.15, 0.15, 24, 8)


def test_many_series_are_cut_at_the_same_moment():
    table = _table(200, 200)
    table.series[1] = Series("late", pd.RangeIndex(100, 200), table.series[1].target[:100], table.series[1].covariates[:100])
    cuts = W.time_cuts(table, 0.15, 0.15, LOOKBACK, HORIZON)
    moments = [table.series[i].time[cuts.val_end[i]] for i in range(2)]
    assert moments[0] == moments[1] == 170
