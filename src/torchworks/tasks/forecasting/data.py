"""From a table of series to the run's datasets and the preprocessing state stored in the bundle."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from torchworks.console import say
from torchworks.datasets import get_sample
from torchworks.errors import DataError
from torchworks.tasks.forecasting.config import ForecastingConfig
from torchworks.tasks.forecasting.frames import SeriesTable, load_series
from torchworks.tasks.forecasting.frequency import season_of
from torchworks.tasks.forecasting.windows import (
    Cuts,
    Scaler,
    WindowDataset,
    fit_scalers,
    scaled_features,
    time_cuts,
    window_origins,
)
from torchworks.tasks.protocol import PreparedData


@dataclass(kw_only=True)
class ForecastData(PreparedData):
    """PreparedData plus what evaluation and the baselines need: the series in original units."""

    table: SeriesTable | None = None
    cuts: Cuts | None = None


def resolve_source(data: str) -> Any:
    """A sample name becomes its CSV; anything else is a path."""
    sample = get_sample(data)
    return sample.path() if sample is not None else data


def read_table(config: ForecastingConfig, source: Any = None, min_length: int | None = None) -> SeriesTable:
    """Load and validate the series named by ``config`` (or ``source``), printing what was fixed."""
    table = load_series(
        resolve_source(config.data) if source is None else source,
        time=config.time,
        target=config.target,
        covariates=config.covariates,
        series_id=config.series_id,
        fill=config.fill,
        min_length=config.lookback + config.horizon if min_length is None else min_length,
    )
    for note in table.notes:
        say(f"[yellow]warning:[/yellow] {note}")
    return table


def prepare_forecast_data(config: ForecastingConfig, state: dict[str, Any] | None = None) -> ForecastData:
    """Split by time, fit scalers on the training part (or reuse the bundle's), build the windows."""
    table = read_table(config)
    cuts = time_cuts(table, config.val_fraction, config.test_fraction, config.lookback, config.horizon)
    if state is None:
        scalers = fit_scalers(table, cuts)
        state = _state(config, table, scalers)
    else:
        scalers = {sid: Scaler.from_state(s) for sid, s in state["scalers"].items()}
        missing = [s.id for s in table.series if s.id not in scalers]
        if missing:
            raise DataError(f"series {missing[:5]} of '{config.data}' were not in this model's training data",
                            expected="the series the model was trained on", got=f"{len(missing)} new series")
    scaled = scaled_features(table, scalers)
    parts = {
        part: WindowDataset(scaled, window_origins(table, cuts, part, config.lookback, config.horizon,
                                                   config.stride), config.lookback, config.horizon)
        for part in ("train", "val", "test")
    }
    for part, dataset in parts.items():
        if len(dataset) == 0:
            raise DataError(f"no {part} windows in '{config.data}'",
                            expected=f"room for lookback={config.lookback} + horizon={config.horizon} in the {part} part",
                            got="none", hint="lower lookback= or horizon=")
    return ForecastData(
        train=parts["train"],
        val=parts["val"],
        test=parts["test"],
        state=state,
        summary=_summary(table, cuts, parts),
        fingerprint=_fingerprint(table),
        table=table,
        cuts=cuts,
    )


def _state(config: ForecastingConfig, table: SeriesTable, scalers: dict[str, Scaler]) -> dict[str, Any]:
    return {
        "time_column": table.time_column,
        "target_column": table.target_column,
        "covariate_columns": table.covariate_columns,
        "series_column": table.series_column,
        "frequency": table.frequency,
        "time_kind": "steps" if isinstance(table.frequency, int) else "dates",
        "season": config.season or season_of(table.frequency),
        "lookback": config.lookback,
        "horizon": config.horizon,
        "quantiles": config.quantiles,
        "fill": config.fill,
        "n_features": 1 + len(table.covariate_columns),
        "scalers": {sid: scaler.to_state() for sid, scaler in scalers.items()},
    }


def _summary(table: SeriesTable, cuts: Cuts, parts: dict[str, WindowDataset]) -> dict[str, Any]:
    first = table.series[0]
    facts: dict[str, Any] = {
        "source": table.source,
        "series": len(table.series),
        "steps": sum(len(s.target) for s in table.series),
        "frequency": str(table.frequency),
        "time range": f"{first.time[0]} .. {max(s.time[-1] for s in table.series)}",
        "validation starts": str(first.time[cuts.train_end[0]]),
        "test starts": str(first.time[cuts.val_end[0]]),
        "train windows": len(parts["train"]),
        "val windows": len(parts["val"]),
        "test windows": len(parts["test"]),
        "target": table.target_column,
        "covariates": ", ".join(table.covariate_columns) or "none",
    }
    for number, note in enumerate(table.notes, 1):
        facts[f"note {number}"] = note
    return facts


def _fingerprint(table: SeriesTable) -> str:
    digest = hashlib.sha256()
    for series in table.series:
        digest.update(series.id.encode())
        digest.update(np.ascontiguousarray(series.target).tobytes())
        digest.update(np.ascontiguousarray(series.covariates).tobytes())
    return digest.hexdigest()[:16]
