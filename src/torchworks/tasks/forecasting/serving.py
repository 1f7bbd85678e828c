"""Serving a forecaster: a request's series arrive as rows named like the training columns, and each
forecast step comes back as a typed record (quantile columns included)."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, create_model

from torchworks.tasks.forecasting.state import INPUT_COLUMNS
from torchworks.tasks.protocol import ServingSpec

TABLE_UPLOADS = (".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".parquet", ".pq")
# a finite number: NaN and Infinity are refused at the request, not carried into the model
Finite = Annotated[float, Field(allow_inf_nan=False)]
Moment = str | int  # an ISO date/time, or an integer step


def forecast_serving(state: dict[str, Any]) -> ServingSpec:
    """Rows in (one table per input: at least ``lookback`` steps of each series), records out. JSON rows
    carry the training column names; an uploaded table may call its columns otherwise and name them
    in the request's options (``{"time": "YEAR"}``), or differ only in case."""
    return ServingSpec(input_kind="table", file_types=TABLE_UPLOADS, json_item=_table_type(state),
                       record=_record_model(state), example=None, options=INPUT_COLUMNS,
                       table={"time": state["time_column"], "target": state["target_column"],
                              "series": state["series_column"], "covariates": list(state["covariate_columns"]),
                              "lookback": state["lookback"], "horizon": state["horizon"]})


def rows_to_frame(rows: list[BaseModel]) -> pd.DataFrame:
    """Validated rows as the DataFrame ``predict_inputs`` reads, columns named as in training."""
    return pd.DataFrame([row.model_dump(by_alias=True) for row in rows])


def _table_type(state: dict[str, Any]) -> Any:
    columns: dict[str, tuple[Any, Any]] = {}
    if state["series_column"]:
        columns[state["series_column"]] = (str | int, ...)
    columns[state["time_column"]] = (Moment, ...)
    columns[state["target_column"]] = (Finite, ...)
    for covariate in state["covariate_columns"]:
        columns[covariate] = (Finite, ...)
    row = _aliased_model("SeriesRow", columns, extra="forbid")
    return Annotated[list[row], Field(min_length=1, max_length=100_000)]


def _record_model(state: dict[str, Any]) -> type[BaseModel]:
    columns: dict[str, tuple[Any, Any]] = {"input": (str, ...)}
    if state["series_column"]:
        columns[state["series_column"]] = (str, ...)
    columns[state["time_column"]] = (Moment, ...)
    columns["step"] = (int, ...)
    columns["forecast"] = (float, ...)
    quantiles = state["quantiles"]
    for q in quantiles:
        if q != 0.5:
            columns[f"q{q:g}"] = (float, ...)
    return _aliased_model("Forecast", columns, extra="forbid")


def _aliased_model(name: str, columns: dict[str, tuple[Any, Any]], extra: str) -> type[BaseModel]:
    """A model whose fields carry the user's column names as aliases (any text, even ``q0.1`` or
    ``json``), under internal names that cannot clash with pydantic's own attributes."""
    fields = {f"field_{i}": (kind, Field(default, alias=column))
              for i, (column, (kind, default)) in enumerate(columns.items())}
    config = ConfigDict(extra=extra, populate_by_name=False, serialize_by_alias=True)
    return create_model(name, __config__=config, **fields)
