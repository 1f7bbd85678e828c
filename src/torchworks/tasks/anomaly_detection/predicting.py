"""Scores for new rows: one output row per input row, in input order, with the input's id columns,
``anomaly_score`` (higher is more anomalous), ``is_anomaly`` under the threshold in force and
``top_features``. A table file given with ``--output`` is streamed: read, encoded, scored and written a
record batch at a time, so four million rows take the memory of one batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from torchworks.families.tabular.inputs import RowId, table_inputs
from torchworks.families.tabular.rows import EncodedRows
from torchworks.families.tabular.streaming import BatchRows, streamed_batches, where_columns
from torchworks.tasks.anomaly_detection.scoring import contributions, scores_of, top_feature_names
from torchworks.tasks.anomaly_detection.thresholds import decision_threshold
from torchworks.tasks.values import PredictionStream


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


def anomaly_stream(inputs: Sequence[Any], state: dict[str, Any]) -> PredictionStream | None:
    """Table files streamed batch by batch; None when an input is not a file (rows from a request)."""
    streamed = streamed_batches(inputs, state)
    return PredictionStream(*streamed) if streamed is not None else None


def anomaly_table(outputs: torch.Tensor, rows: BatchRows, state: dict[str, Any]) -> pa.Table:
    """A streamed batch's output rows."""
    parts = contributions(outputs, state)
    scores = scores_of(parts)
    count = len(scores)
    columns = {**where_columns(rows, count),
               "anomaly_score": pa.array(scores.astype(np.float64)),
               "is_anomaly": pa.array(scores >= decision_threshold(state)[0]),
               "top_features": top_feature_names(parts, state, state.get("top_features", 3))}
    return pa.table(columns)
