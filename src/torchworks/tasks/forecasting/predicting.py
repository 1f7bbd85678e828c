"""Predict: the last ``lookback`` observations of each series in, the next ``horizon`` values out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchworks.errors import DataError
from torchworks.tasks.forecasting.frames import load_series
from torchworks.tasks.forecasting.frequency import future_times
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
    """Each input (a CSV/Parquet path or a DataFrame with the training columns) -> one window per
    series, scaled with that series' training scaler; ids carry the series and its last time."""
    lookback = state["lookback"]
    windows, ids = [], []
    for source in inputs:
        if isinstance(source, (str, Path)) and not Path(source).exists():
            raise DataError(f"input '{source}' does not exist", expected="a CSV or Parquet file of recent values",
                            got="no such file", hint="check the path")
        table = load_series(
            source,
            time=state["time_column"],
            target=state["target_column"],
            covariates=state["covariate_columns"],
            series_id=state["series_column"],
            fill=state["fill"],
            min_length=lookback,
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
