"""How a detector is served: rows in (JSON objects of column to value, or a table file), a score per row out.
Light: pydantic only."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from torchworks.families.tabular.interface import TABLE_UPLOADS, Cell, typical_row
from torchworks.tasks.protocol import ServingSpec


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
    return ServingSpec(input_kind="table", file_types=TABLE_UPLOADS, json_item=dict[str, Cell], record=AnomalyRecord,
                       example=typical_row(state), options=("threshold", "contamination", "top_features"),
                       draws="rows", table={"bar": "anomaly_score", "flag": "is_anomaly"})
