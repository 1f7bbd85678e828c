"""The forecasting samples materialise as CSVs and load with their own defaults."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from torchworks.datasets import data_home
from torchworks.engine.catalog import get_sample, list_samples
from torchworks.tasks.forecasting.frames import load_series


def load_sample(name: str):
    sample = get_sample(name)
    path = sample.path()
    defaults = sample.defaults
    table = load_series(path, time=defaults["time"], target=defaults["target"],
                        covariates=defaults.get("covariates", []), series_id=None, fill="interpolate",
                        min_length=defaults["lookback"] + defaults["horizon"])
    return sample, path, table


def test_registered_for_forecasting():
    names = {s.name for s in list_samples() if s.task == "forecasting"}
    assert {"sunspots", "co2", "prices"} <= names


def test_sunspots():
    sample, path, table = load_sample("sunspots")
    assert path == data_home() / "sunspots" / "sunspots.csv" and path.is_file()
    series = table.series[0]
    assert table.frequency == 1 and len(series.target) == 309
    assert series.time[0] == 1700 and series.time[-1] == 2008
    assert sample.path() == path  # the second call reuses the file


def test_co2_keeps_its_gaps_for_the_fill_policy():
    _, path, table = load_sample("co2")
    assert pd.read_csv(path)["co2"].isna().sum() == 59
    assert table.frequency == "W-SAT" and len(table.series[0].target) == 2284
    assert any(note.startswith("filled 59 missing values in co2") for note in table.notes)
    assert np.isfinite(table.series[0].target).all()


def test_prices_ohlc():
    _, path, table = load_sample("prices")
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["Date", "Open", "High", "Low", "Close", "Volume"]
    assert table.frequency == "B" and len(table.series[0].target) == 1500 and table.notes == []
    assert (frame.High >= frame[["Open", "Close"]].max(axis=1)).all()
    assert (frame.Low <= frame[["Open", "Close"]].min(axis=1)).all()
    assert frame.Volume.dtype.kind == "i" and (frame.Volume > 0).all()
    moves = np.abs(np.log(frame.Close).diff()).iloc[1:]
    assert np.corrcoef(moves, frame.Volume.iloc[1:])[0, 1] > 0.2


@pytest.mark.parametrize("name", ["sunspots", "co2", "prices"])
def test_no_staging_folders_left(name):
    get_sample(name).path()
    assert not [p for p in data_home().iterdir() if p.name.startswith(f".{name}-")]
