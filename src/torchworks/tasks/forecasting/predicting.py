"""Predict: the last ``lookback`` observations of each series in, the next ``horizon`` values out.

An input's columns are matched to the model's by name, ignoring case and surrounding spaces; a file whose
columns are called otherwise names them at prediction time with the settings that named them in training
(``time=YEAR target=SUNACTIVITY covariates=A,B series_id=STORE``). These are a mapping of the input,
not a change to the model: the forecasts keep the column names the model was trained with.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchworks.errors import ConfigError, DataError
from torchworks.tables import listing, read_source
from torchworks.tasks.forecasting.frames import Wanted, match_columns, series_table
from torchworks.tasks.forecasting.frequency import future_times
from torchworks.tasks.forecasting.state import INPUT_COLUMNS
from torchworks.tasks.forecasting.windows import Scaler, features_of

class RecentWindows(torch.utils.data.Dataset):
    """One scaled input window per series."""

    def __init__(self, windows: list[torch.Tensor]):
        self.windows = windows

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.windows[index]


def recent_windows(inputs: Sequence[Any], state: dict[str, Any]) -> tuple[RecentWindows, list[dict[str, Any]]]:
    """Each input (a CSV/Parquet path, an upload or a DataFrame of recent values) -> one window per
    series, scaled with that series' training scaler; ids carry the series and its last time."""
    lookback = state["lookback"]
    wanted = wanted_columns(state)
    windows, ids = [], []
    for source in inputs:
        if isinstance(source, (str, Path)) and not Path(source).exists():
            raise DataError(f"input '{source}' does not exist", expected="a CSV or Parquet file of recent values",
                            got="no such file", hint="check the path")
        frame, rows = read_source(source, "a CSV, TSV or Parquet file of recent values")
        table = series_table(
            match_columns(frame, rows, wanted),
            rows,
            time=state["time_column"],
            target=state["target_column"],
            covariates=state["covariate_columns"],
            series_id=state["series_column"],
            fill=state["fill"],
        )
        short = [series for series in table.series if len(series.target) < lookback]
        if short:
            raise DataError(
                f"too little history in '{table.source}' to forecast from",
                expected=f"at least {lookback} rows of history per series (lookback {lookback})",
                got=listing([f"series '{s.id}' has {len(s.target)}" if s.id else f"{len(s.target)} rows" for s in short]),
                hint=f"give the last {lookback} or more rows of each series; a model trained with a shorter "
                     "lookback= would need fewer",
            )
        if str(table.frequency) != str(state["frequency"]) and len(table.series[0].target) > 2:
            raise DataError(f"the timestamps of '{table.source}' have another frequency",
                            expected=f"the frequency the model was trained on ({state['frequency']})",
                            got=str(table.frequency), hint="resample the data to the training frequency")
        for series in table.series:
            if series.id not in state["scalers"]:
                raise DataError(
                    f"series '{series.id}' in '{table.source}' was not in the training data",
                    expected=f"one of the {len(state['scalers'])} series the model was trained on",
                    got=series.id, hint="train a model that includes this series",
                )
            scaler = Scaler.from_state(state["scalers"][series.id])
            values = scaler.transform(features_of(series)[-lookback:])
            windows.append(torch.from_numpy(values.astype(np.float32)))
            ids.append({"series": series.id, "last_time": series.time[-1], "source": table.source})
    if not windows:
        raise DataError("nothing to predict", expected="a CSV or Parquet file of recent values", got="no inputs")
    return RecentWindows(windows), ids


def wanted_columns(state: dict[str, Any]) -> list[Wanted]:
    """The columns the model reads, each with the input's name for it when a prediction option gave one
    (prediction options arrive in the state under their setting's name: ``state["time"] == "YEAR"``).

    Raises:
        ConfigError: ``covariates=`` naming another number of columns than the model reads, or
            ``series_id=`` for a model of a single series.
    """
    given = {key: state.get(key) or None for key in INPUT_COLUMNS}
    wanted = [Wanted("time", "time", state["time_column"], given["time"]),
              Wanted("target", "target", state["target_column"], given["target"])]
    trained = list(state["covariate_columns"])
    covariates = given["covariates"]
    if isinstance(covariates, str):
        covariates = [part.strip() for part in covariates.split(",") if part.strip()]
    if covariates is not None and len(covariates) != len(trained):
        raise ConfigError(f"covariates= names {len(covariates)} input column{'s' if len(covariates) != 1 else ''} "
                          f"for a model that reads {len(trained)}",
                          expected=f"the input's names for {', '.join(trained)}, in that order" if trained
                          else "no covariates", got=", ".join(covariates) or "none",
                          hint="one name per covariate, comma-separated" if trained else "leave covariates= out")
    wanted += [Wanted("covariate", "covariates", name, covariates[i] if covariates else None, ", ".join(trained))
               for i, name in enumerate(trained)]
    if state["series_column"]:
        wanted.append(Wanted("series", "series_id", state["series_column"], given["series_id"]))
    elif given["series_id"]:
        raise ConfigError("this model was trained on a single series", expected="no series_id= at prediction time",
                          got=f"series_id={given['series_id']}", hint="leave series_id= out")
    return wanted


def forecast_records(outputs: torch.Tensor, ids: list[dict[str, Any]], state: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per series and future step: time, forecast, and one column per quantile."""
    quantiles = state["quantiles"]
    middle = quantiles.index(0.5) if quantiles else 0
    records = []
    for output, identity in zip(outputs.float().numpy(), ids):
        scaler = Scaler.from_state(state["scalers"][identity["series"]])
        values = np.sort(scaler.inverse_target(output), axis=-1)  # (horizon, q); crossed quantiles reordered
        times = future_times(identity["last_time"], state["frequency"], state["horizon"])
        for step, moment in enumerate(times):
            record: dict[str, Any] = {"input": identity["source"]}
            if state["series_column"]:
                record[state["series_column"]] = identity["series"]
            record.update({state["time_column"]: _plain(moment), "step": step + 1,
                           "forecast": round(float(values[step, middle]), 6)})
            for column, q in enumerate(quantiles):
                if column != middle:
                    record[f"q{q:g}"] = round(float(values[step, column]), 6)
            records.append(record)
    return records


def _plain(moment: Any) -> Any:
    """A timestamp as ISO text (date only when it has no time of day), an integer step as int."""
    if hasattr(moment, "isoformat"):
        text = moment.isoformat()
        return text[:10] if text.endswith("T00:00:00") else text
    return int(moment)
