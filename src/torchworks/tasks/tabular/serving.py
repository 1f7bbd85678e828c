"""How a tabular model is served: rows in (JSON objects of column to value, or a table file), a record per
row out. Light: pydantic only."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from torchworks.tasks.protocol import ServingSpec

TABLE_UPLOADS = (".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".parquet", ".pq")
Cell = str | float | int | bool | None


class TabularRecord(BaseModel):
    """The prediction for one row."""

    model_config = ConfigDict(extra="allow")  # the input's id columns come along under their own names

    input: str
    row: int
    prediction: str | float
    probability: float | None = None
    probabilities: dict[str, float] | None = Field(None, description="Each class's probability (classification).")


def tabular_serving(state: dict[str, Any]) -> ServingSpec:
    """The serving description of a model with ``state``: rows as JSON objects or uploaded tables."""
    return ServingSpec(input_kind="table", file_types=TABLE_UPLOADS, json_item=dict[str, Cell], record=TabularRecord,
                       example=example_row(state), options=("threshold",) if len(state["labels"]) == 2 else ())


def example_row(state: dict[str, Any]) -> dict[str, Any]:
    """A typical row: every number at its training median, every category its most frequent value."""
    row: dict[str, Any] = {}
    for feature in state["encoding"]["numeric"]:
        if feature["source"] == "value":
            row[feature["column"]] = round(feature["center"], 4)
    for feature in state["encoding"]["categorical"]:
        if feature["source"] in ("value", "flag") and feature["values"]:
            row[feature["column"]] = feature["values"][-1 if feature["source"] == "flag" else 0]
    for column in state["columns"]:
        row.setdefault(column["name"], None)
    return {column["name"]: row[column["name"]] for column in state["columns"]}
