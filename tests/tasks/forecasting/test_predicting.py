"""Predicting from recent rows: columns matched ignoring case, renamed at prediction time (Python, CLI),
ambiguous matches and too-short histories as one clear error."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import torchworks
from torchworks.errors import ConfigError, DataError

RENAMED = {"day": "t", "store": "shop", "sales": "y", "signal": "s1", "noise": "s2"}
MAPPING = {"time": "t", "target": "y", "covariates": "s1,s2", "series_id": "shop"}


@pytest.fixture(scope="module")
def recent(driven_run) -> pd.DataFrame:
    """The last 12 rows (lookback 8) of each of the 4 stores, named as in training."""
    return pd.read_csv(driven_run.parent.parent.parent / "driven.csv").groupby("store").tail(12)


@pytest.fixture(scope="module")
def expected(driven_run, recent) -> list[dict]:
    return torchworks.load(driven_run).predict(recent)


def _forecasts(records: list[dict]) -> dict:
    return {(r["store"], r["day"], r["step"]): r["forecast"] for r in records}


def test_columns_match_ignoring_case_and_spaces(driven_run, recent, expected):
    shouted = recent.rename(columns={"day": " DAY ", "store": "Store", "sales": "SALES", "signal": "Signal",
                                     "noise": "noise "})
    records = torchworks.load(driven_run).predict(shouted)
    assert len(records) == 4 and _forecasts(records) == _forecasts(expected)
    assert set(records[0]) == {"input", "store", "day", "step", "forecast"}  # the model's names come back


def test_other_column_names_are_mapped_in_python(driven_run, recent, expected):
    predictor = torchworks.load(driven_run)
    renamed = recent.rename(columns=RENAMED).assign(extra=1.0)  # a column the model does not read is ignored
    with pytest.raises(DataError, match=r"no column 'day', the time column .* Hint: time=COLUMN"):
        predictor.predict(renamed)
    records = predictor.predict(renamed, options=MAPPING)
    assert _forecasts(records) == _forecasts(expected)
    # the covariates are mapped in the model's order: swapping them changes the input
    swapped = predictor.predict(renamed, options={**MAPPING, "covariates": "s2,s1"})
    assert _forecasts(swapped) != _forecasts(expected)
    # mapped names are matched ignoring case too, and one input column may not stand for two
    assert _forecasts(predictor.predict(renamed, options={**MAPPING, "time": "T"})) == _forecasts(expected)
    with pytest.raises(DataError, match="'y' of '<dataframe>' is asked for twice"):
        predictor.predict(renamed, options={**MAPPING, "covariates": "y,s2"})
    with pytest.raises(DataError, match=r"target column 's_1' \(target=s_1\).*did you mean 's1'"):
        predictor.predict(renamed, options={**MAPPING, "target": "s_1"})
    with pytest.raises(ConfigError, match="names 1 input column for a model that reads 2"):
        predictor.predict(renamed, options={**MAPPING, "covariates": "s1"})


def test_other_column_names_are_mapped_on_the_command_line(driven_run, recent, expected, tmp_path, cli):
    path = tmp_path / "raw.csv"
    recent.rename(columns=RENAMED).to_csv(path, index=False)
    code, out, err = cli("predict", str(driven_run), str(path), *(f"{k}={v}" for k, v in MAPPING.items()))
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert _forecasts(records) == _forecasts(expected) and records[0]["input"] == str(path)
    code, out, err = cli("predict", str(driven_run), str(path), "time=t", "target=y")
    assert code == 2 and "Traceback" not in err
    assert f"'{path}' has no column 'signal', the covariate column the model was trained with" in err
    assert "covariates=A,B names the input's covariate columns, in the model's order (signal, noise)" in err


def test_two_columns_matching_one_name_ignoring_case_is_an_error_naming_both(driven_run, recent, expected):
    predictor = torchworks.load(driven_run)
    doubled = recent.rename(columns={"sales": "Sales"}).assign(SALES=0.0)
    with pytest.raises(DataError, match="columns 'Sales' and 'SALES' of '<dataframe>' both match the target "
                                        "column 'sales'.*target=Sales"):
        predictor.predict(doubled)
    assert _forecasts(predictor.predict(doubled, options={"target": "Sales"})) == _forecasts(expected)
    exact = recent.assign(SALES=0.0)  # the exact name wins over a match in another case
    assert _forecasts(predictor.predict(exact)) == _forecasts(expected)


def test_a_short_history_says_how_many_rows_are_needed(driven_run, recent, tmp_path, cli):
    short = recent.groupby("store").tail(5)
    short = pd.concat([short[short.store != "s1"], recent[recent.store == "s1"]])  # s1 is long enough
    with pytest.raises(DataError) as caught:
        torchworks.load(driven_run).predict(short)
    message = str(caught.value)
    assert "at least 8 rows of history per series (lookback 8)" in message
    assert "series 's0' has 5, series 's2' has 5 and series 's3' has 5" in message and "'s1'" not in message
    assert "retrain" not in message
    path = tmp_path / "short.csv"
    short.to_csv(path, index=False)
    code, _, err = cli("predict", str(driven_run), str(path))
    assert code == 2 and f"too little history in '{path}'" in err and "lookback 8" in err
