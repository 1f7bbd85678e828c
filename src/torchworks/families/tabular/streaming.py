"""Table files scored a record batch at a time, for predictions written straight to a file: each batch
encoded into model inputs with where its rows came from, so that a task turns its outputs into plain
output columns (``input``, ``row``, the id columns, then its own) and four million rows take the memory
of one batch."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from torchworks.families.tabular.encoding import TableEncoder
from torchworks.families.tabular.inputs import InlineRow, encoded_batches, open_input

STREAM_BATCH_ROWS = 65_536


@dataclass
class BatchRows:
    """What a streamed batch's output table needs besides the model's outputs: its input, first row and ids."""

    source: str
    first_row: int
    ids: dict[str, pa.Array]


def streamed_batches(inputs: Sequence[Any], state: dict[str, Any]
                     ) -> tuple[Iterator[tuple[dict[str, torch.Tensor], BatchRows]], int | None] | None:
    """The model inputs of every table file in ``inputs`` a batch at a time, with the rows' count when the
    files know it; None when an input is not a file (rows from a request go through records).

    Raises:
        DataError: An input cannot be opened (every one is checked before the first batch), or, once its
            batch is read, lacks a column or has a cell that does not fit.
    """
    if not inputs or any(isinstance(item, (InlineRow, list)) for item in inputs):
        return None
    tables = [open_input(item) for item in inputs]
    encoder = TableEncoder(state["encoding"], state["columns"])
    known = [table.rows() for table in tables]
    total = sum(known) if all(count is not None for count in known) else None
    return _batches(tables, encoder, state["ids"]), total


def _batches(tables: list[Any], encoder: TableEncoder, ids: list[str]
             ) -> Iterator[tuple[dict[str, torch.Tensor], BatchRows]]:
    for table in tables:
        first = 0
        for encoded, _, batch in encoded_batches(table, encoder, ids, STREAM_BATCH_ROWS):
            inputs = {"numeric": torch.from_numpy(encoded.numeric),
                      "categorical": torch.from_numpy(encoded.categorical)}
            id_columns = {name: batch.column(name) for name in ids if name in batch.schema.names}
            yield inputs, BatchRows(table.name, first, id_columns)
            first += len(encoded)


def where_columns(rows: BatchRows, count: int) -> dict[str, pa.Array]:
    """The columns that say where each of a batch's ``count`` output rows came from: ``input``, ``row``
    (1-based) and the id columns, as the record path names them."""
    return {"input": pa.array(np.full(count, rows.source, dtype=object), pa.string()),
            "row": pa.array(np.arange(rows.first_row + 1, rows.first_row + count + 1, dtype=np.int64)),
            **rows.ids}
