"""Time splits, train-only scaling and sliding windows: the parts of forecasting where leakage hides.

Every series is cut at the same two moments in time (train | val | test), never shuffled across a
cut. Scalers are fitted on the training part alone. A window is ``(series, origin)``: the model
sees the ``lookback`` steps ending at ``origin`` and forecasts the ``horizon`` steps after it. A
training window's targets end inside the training part; validation and test windows have all their
targets inside their own part and may look back into earlier parts, which is the past.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from torchworks.errors import DataError
from torchworks.tasks.forecasting.frames import Series, SeriesTable


@dataclass(frozen=True)
class Cuts:
    """Where each part starts, as an index into every series."""

    train_end: list[int]  # per series: first index of the validation part
    val_end: list[int]  # per series: first index of the test part


@dataclass(frozen=True)
class Scaler:
    """Per-feature mean and standard deviation of one series' training part (feature 0: target)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> Scaler:
        std = values.std(axis=0)
        return cls(values.mean(axis=0), np.where(std > 1e-12, std, 1.0))

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.std

    def inverse_target(self, values: np.ndarray) -> np.ndarray:
        return values * self.std[0] + self.mean[0]

    def to_state(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, list[float]]) -> Scaler:
        return cls(np.asarray(state["mean"], dtype=np.float64), np.asarray(state["std"], dtype=np.float64))


def features_of(series: Series) -> np.ndarray:
    """The (n, 1 + covariates) matrix a model reads: target first."""
    return np.column_stack([series.target, series.covariates]) if series.covariates.size else series.target[:, None]


def time_cuts(table: SeriesTable, val_fraction: float, test_fraction: float, lookback: int, horizon: int) -> Cuts:
    """Cut every series at the same two moments, taken from the union of all timestamps."""
    moments = np.unique(np.concatenate([np.asarray(s.time) for s in table.series]))
    n = len(moments)
    test_start = n - max(1, round(n * test_fraction))
    val_start = test_start - max(1, round(n * val_fraction))
    train_end, val_end = [], []
    for series in table.series:
        times = np.asarray(series.time)
        train_end.append(int(np.searchsorted(times, moments[val_start])))
        val_end.append(int(np.searchsorted(times, moments[test_start])))
    _check_parts(table, Cuts(train_end, val_end), lookback, horizon)
    return Cuts(train_end, val_end)


def _check_parts(table: SeriesTable, cuts: Cuts, lookback: int, horizon: int) -> None:
    """Every series needs one training window; the val and test periods need room for a horizon."""
    for series, train_end, val_end in zip(table.series, cuts.train_end, cuts.val_end):
        label = f"series '{series.id}'" if series.id else "the series"
        if train_end < lookback + horizon:
            raise DataError(
                f"the training part of {label} in '{table.source}' is too short",
                expected=f"at least lookback + horizon = {lookback} + {horizon} = {lookback + horizon} steps",
                got=f"{train_end} of its {len(series.target)} steps (the rest is validation and test)",
                hint="lower lookback= or horizon=, or val_fraction=/test_fraction=",
            )
    longest_test = max(len(s.target) - v for s, v in zip(table.series, cuts.val_end))
    longest_val = max(v - t for t, v in zip(cuts.train_end, cuts.val_end))
    for part, length in (("test", longest_test), ("validation", longest_val)):
        if length < horizon:
            raise DataError(
                f"the horizon is longer than the {part} period of '{table.source}'",
                expected=f"a {part} period of at least horizon={horizon} steps",
                got=f"{length} steps",
                hint=f"lower horizon=, or raise {'test' if part == 'test' else 'val'}_fraction=",
            )


def fit_scalers(table: SeriesTable, cuts: Cuts) -> dict[str, Scaler]:
    """One scaler per series, from its training part only."""
    return {s.id: Scaler.fit(features_of(s)[:end]) for s, end in zip(table.series, cuts.train_end)}


def window_origins(table: SeriesTable, cuts: Cuts, part: str, lookback: int, horizon: int, stride: int = 1) -> np.ndarray:
    """``(series_index, origin)`` rows of every window of ``part`` (train, val or test)."""
    rows = []
    for index, series in enumerate(table.series):
        n, train_end, val_end = len(series.target), cuts.train_end[index], cuts.val_end[index]
        first, last = {  # first and last origin whose targets lie inside the part
            "train": (lookback - 1, train_end - 1 - horizon),
            "val": (max(lookback - 1, train_end - 1), val_end - 1 - horizon),
            "test": (max(lookback - 1, val_end - 1), n - 1 - horizon),
        }[part]
        step = stride if part == "train" else 1
        origins = np.arange(first, last + 1, step) if last >= first else np.empty(0, dtype=np.int64)
        if part == "train" and origins.size and origins[-1] != last:
            origins = np.append(origins, last)  # the most recent training window always counts
        rows.append(np.column_stack([np.full(origins.size, index), origins]))
    return np.concatenate(rows).astype(np.int64) if rows else np.empty((0, 2), dtype=np.int64)


class WindowDataset(Dataset):
    """Scaled ``(inputs (lookback, features), targets (horizon,))`` pairs at the given windows.

    Attributes:
        windows: ``(series_index, origin)`` rows, in order.
        scaled: Per series, the scaled feature matrix (float32).
    """

    def __init__(self, scaled: list[torch.Tensor], windows: np.ndarray, lookback: int, horizon: int,
                 with_targets: bool = True):
        self.scaled = scaled
        self.windows = windows
        self.lookback = lookback
        self.horizon = horizon
        self.with_targets = with_targets

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int):
        series, origin = (int(v) for v in self.windows[index])
        values = self.scaled[series]
        inputs = values[origin - self.lookback + 1 : origin + 1]
        if not self.with_targets:
            return inputs
        return inputs, values[origin + 1 : origin + 1 + self.horizon, 0]


def scaled_features(table: SeriesTable, scalers: dict[str, Scaler]) -> list[torch.Tensor]:
    """Each series' feature matrix, scaled by its own (training-part) scaler, as float32 tensors."""
    return [torch.from_numpy(scalers[s.id].transform(features_of(s)).astype(np.float32)) for s in table.series]
