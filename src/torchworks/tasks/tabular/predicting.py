"""Predictions of a tabular model: inputs read and encoded with the bundle's statistics, and one record per
row (where it came from, its id columns, the class with its probability or the value)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from torchworks.families.tabular.inputs import RowId, table_inputs
from torchworks.families.tabular.rows import EncodedRows
from torchworks.tasks.tabular.thresholds import decision_threshold

SHOWN_CLASSES = 10  # a record lists every class's probability up to this many classes, else the top k


def tabular_inputs(inputs: Sequence[Any], state: dict[str, Any]) -> tuple[EncodedRows, list[RowId]]:
    """Every row of every input, encoded, with its id; values training never saw are counted and said.

    Raises:
        DataError: An input cannot be read, lacks a column the model reads, or has a cell that does not fit.
    """
    rows, ids, encoder = table_inputs(inputs, state)
    if encoder.unseen:
        from torchworks.console import say

        counts = ", ".join(f"{column} {count:,}" for column, count in encoder.unseen.most_common(5))
        say(f"values training never saw (predicted as 'unknown'): {counts}")
    return rows, ids


def tabular_records(outputs: torch.Tensor, ids: list[RowId], state: dict[str, Any], top_k: int
                    ) -> list[dict[str, Any]]:
    """A record per row: ``input``, ``row``, the id columns, then ``prediction`` with ``probability`` and
    ``probabilities`` (classification) or the value (regression)."""
    if state["task_type"] == "regression":
        values = outputs.reshape(len(ids), -1)[:, 0].double() * state["target_scale"] + state["target_center"]
        return [{**_where(row_id), "prediction": round(float(value), 6)} for row_id, value in zip(ids, values)]
    labels = state["labels"]
    probabilities = outputs.float().softmax(dim=1)
    decided = probabilities.argmax(dim=1)
    if len(labels) == 2:
        positive = labels.index(state["positive"])
        said_positive = probabilities[:, positive] >= decision_threshold(state)
        decided = torch.where(said_positive, positive, 1 - positive)
    records = []
    for row_id, row, said in zip(ids, probabilities.tolist(), decided.tolist()):
        shown = sorted(range(len(labels)), key=lambda c: -row[c])
        shown = shown if len(labels) <= SHOWN_CLASSES else shown[:top_k]
        records.append({**_where(row_id), "prediction": labels[said], "probability": round(row[said], 6),
                        "probabilities": {labels[c]: round(row[c], 6) for c in shown}})
    return records


def _where(row_id: RowId) -> dict[str, Any]:
    return {"input": row_id.source, "row": row_id.row, **row_id.ids}
