"""How a tabular model is served: rows in (JSON objects of column to value, or a table file), a record per
row out. Light: pydantic only."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from torchworks.families.tabular.interface import TABLE_UPLOADS, Cell, typical_row
from torchworks.tasks.protocol import ServingSpec


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
                       example=typical_row(state), options=("threshold",) if len(state["labels"]) == 2 else (),
                       draws="rows", table={"bar": "probability"} if state["labels"] else {})
