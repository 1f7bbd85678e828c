"""Predictions of a tabular model: inputs read and encoded with the bundle's statistics, and one record per
row (where it came from, its id columns, the class with its probability or the value). A table file given
with ``--output`` is streamed: read, encoded, predicted and written a record batch at a time, with a
``p_CLASS`` column per class (up to ten classes) where a record has ``probabilities``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from torchworks.families.tabular.inputs import RowId, table_inputs
from torchworks.families.tabular.rows import EncodedRows
from torchworks.families.tabular.streaming import BatchRows, streamed_batches, where_columns
from torchworks.tasks.tabular.thresholds import decision_threshold
from torchworks.tasks.values import PredictionStream

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
        return [{**_where(row_id), "prediction": round(float(value), 6)}
                for row_id, value in zip(ids, _values(outputs, state))]
    labels = state["labels"]
    probabilities, decided = _decisions(outputs, state)
    records = []
    for row_id, row, said in zip(ids, probabilities.tolist(), decided.tolist()):
        shown = sorted(range(len(labels)), key=lambda c: -row[c])
        shown = shown if len(labels) <= SHOWN_CLASSES else shown[:top_k]
        records.append({**_where(row_id), "prediction": labels[said], "probability": round(row[said], 6),
                        "probabilities": {labels[c]: round(row[c], 6) for c in shown}})
    return records


def tabular_stream(inputs: Sequence[Any], state: dict[str, Any]) -> PredictionStream | None:
    """Table files streamed batch by batch; None when an input is not a file (rows from a request)."""
    streamed = streamed_batches(inputs, state)
    return PredictionStream(*streamed) if streamed is not None else None


def tabular_table(outputs: torch.Tensor, rows: BatchRows, state: dict[str, Any]) -> pa.Table:
    """A streamed batch's output rows: where each came from, then ``prediction`` (and ``probability`` with a
    ``p_CLASS`` column per class, up to ten classes)."""
    count = len(outputs)
    columns: dict[str, Any] = where_columns(rows, count)
    if state["task_type"] == "regression":
        columns["prediction"] = pa.array(_values(outputs, state).numpy())
        return pa.table(columns)
    labels = state["labels"]
    probabilities, decided = _decisions(outputs, state)
    chosen = probabilities.gather(1, decided.unsqueeze(1))[:, 0].double().numpy()
    columns["prediction"] = pa.array(np.asarray(labels, dtype=object)[decided.numpy()], pa.string())
    columns["probability"] = pa.array(chosen.round(6))
    if len(labels) <= SHOWN_CLASSES:
        for index, label in enumerate(labels):
            columns[f"p_{label}"] = pa.array(probabilities[:, index].double().numpy().round(6))
    return pa.table(columns)


def _values(outputs: torch.Tensor, state: dict[str, Any]) -> torch.Tensor:
    """A regression's predictions in the target's units."""
    return outputs.reshape(len(outputs), -1)[:, 0].double() * state["target_scale"] + state["target_center"]


def _decisions(outputs: torch.Tensor, state: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's class probabilities and decided class (a binary target's by the threshold in force)."""
    probabilities = outputs.float().softmax(dim=1)
    decided = probabilities.argmax(dim=1)
    labels = state["labels"]
    if len(labels) == 2:
        positive = labels.index(state["positive"])
        said_positive = probabilities[:, positive] >= decision_threshold(state)
        decided = torch.where(said_positive, positive, 1 - positive)
    return probabilities, decided


def _where(row_id: RowId) -> dict[str, Any]:
    return {"input": row_id.source, "row": row_id.row, **row_id.ids}
