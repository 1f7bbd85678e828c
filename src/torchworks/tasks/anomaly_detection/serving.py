"""How a detector is served: rows in (JSON objects of column to value, or a table file), a score per row out.
Light: pydantic only."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from torchworks.tasks.protocol import ServingSpec

TABLE_UPLOADS = (".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".parquet", ".pq")
Cell = str | float | int | bool | None


class AnomalyRecord(BaseModel):
    """The score of one row."""

    model_config = ConfigDict(extra="allow")  # the input's id columns come along under their own names

    input: str
    row: int
    anomaly_score: float
    is_anomaly: bool
    top_features: str


def anomaly_serving(state: dict[str, Any]) -> ServingSpec:
    """The serving description of a detector with ``state``."""
    example = {column["name"]: None for column in state["columns"]}
    for feature in state["encoding"]["numeric"]:
        if feature["source"] == "value":
            example[feature["column"]] = round(feature["center"], 4)
    for feature in state["encoding"]["categorical"]:
        if feature["source"] == "value" and feature["values"]:
            example[feature["column"]] = feature["values"][0]
    return ServingSpec(input_kind="table", file_types=TABLE_UPLOADS, json_item=dict[str, Cell], record=AnomalyRecord,
                       example=example, options=("threshold", "contamination", "top_features"))
