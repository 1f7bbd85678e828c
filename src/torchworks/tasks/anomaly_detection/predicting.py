"""Scores for new rows: one output row per input row, in input order, with the input's id columns,
``anomaly_score`` (higher is more anomalous), ``is_anomaly`` under the threshold in force and
``top_features``. A table file given with ``--output`` is streamed: read, encoded, scored and written a
record batch at a time, so four million rows take the memory of one batch."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from torchworks.families.tabular.encoding import TableEncoder
from torchworks.families.tabular.inputs import InlineRow, RowId, encoded_batches, open_input, table_inputs
from torchworks.families.tabular.rows import EncodedRows
from torchworks.tasks.anomaly_detection.scoring import contributions, scores_of, top_feature_names
from torchworks.tasks.anomaly_detection.thresholds import decision_threshold
from torchworks.tasks.values import PredictionStream

STREAM_BATCH_ROWS = 65_536


def anomaly_inputs(inputs: Sequence[Any], state: dict[str, Any]) -> tuple[EncodedRows, list[RowId]]:
    """Every row of every input, encoded, with its id (the record path: requests and small files)."""
    rows, ids, _ = table_inputs(inputs, state)
    return rows, ids


def anomaly_records(outputs: torch.Tensor, ids: list[RowId], state: dict[str, Any]) -> list[dict[str, Any]]:
    """A record per row: where it came from, its ids, its score, whether it is an anomaly, its top columns."""
    parts = contributions(outputs, state)
    scores = scores_of(parts)
    threshold = decision_threshold(state)[0]
    names = top_feature_names(parts, state, state.get("top_features", 3)).to_pylist()
    return [{"input": row_id.source, "row": row_id.row, **row_id.ids, "anomaly_score": round(float(score), 6),
             "is_anomaly": bool(score >= threshold), "top_features": top}
            for row_id, score, top in zip(ids, scores, names)]


@dataclass
class BatchRows:
    """What a streamed batch's output table needs besides the scores: its input, first row and id columns."""

    source: str
    first_row: int
    ids: dict[str, pa.Array]


def anomaly_stream(inputs: Sequence[Any], state: dict[str, Any]) -> PredictionStream | None:
    """Table files streamed batch by batch; None when an input is not a file (rows from a request)."""
    if not inputs or any(isinstance(item, (InlineRow, list)) for item in inputs):
        return None
    tables = [open_input(item) for item in inputs]  # every file checked before the first batch is scored
    encoder = TableEncoder(state["encoding"], state["columns"])
    known = [table.rows() for table in tables]
    return PredictionStream(_batches(tables, encoder, state["ids"]),
                            sum(known) if all(count is not None for count in known) else None)


def _batches(tables: list[Any], encoder: TableEncoder, ids: list[str]) -> Iterator[tuple[Any, BatchRows]]:
    for table in tables:
        first = 0
        for encoded, _, batch in encoded_batches(table, encoder, ids, STREAM_BATCH_ROWS):
            inputs = {"numeric": torch.from_numpy(encoded.numeric),
                      "categorical": torch.from_numpy(encoded.categorical)}
            id_columns = {name: batch.column(name) for name in ids if name in batch.schema.names}
            yield inputs, BatchRows(table.name, first, id_columns)
            first += len(encoded)


def anomaly_table(outputs: torch.Tensor, rows: BatchRows, state: dict[str, Any]) -> pa.Table:
    """A streamed batch's output rows."""
    parts = contributions(outputs, state)
    scores = scores_of(parts)
    count = len(scores)
    columns = {"input": pa.array(np.full(count, rows.source, dtype=object), pa.string()),
               "row": pa.array(np.arange(rows.first_row + 1, rows.first_row + count + 1, dtype=np.int64)),
               **rows.ids,
               "anomaly_score": pa.array(scores.astype(np.float64)),
               "is_anomaly": pa.array(scores >= decision_threshold(state)[0]),
               "top_features": top_feature_names(parts, state, state.get("top_features", 3))}
    return pa.table(columns)
