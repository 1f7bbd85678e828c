"""What a table model predicts on: files (CSV, TSV, Parquet, JSON lines), DataFrames and single rows (a dict
of column to value, as a request sends it), each checked for the columns the model reads, encoded with the
bundle's statistics, and each row named so predictions can be joined back (its file, its line or row, and
the id columns' values).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from torchworks.errors import DataError
from torchworks.families.tabular.encoding import Encoded, TableEncoder
from torchworks.families.tabular.reading import BATCH_ROWS, Table, column_names, open_table, record_batches
from torchworks.tables import listing

CELLS_KEPT = 1_000  # rows per input whose raw cells are kept for explanations


@dataclass(frozen=True)
class InlineRow:
    """One row given as ``{column: value}`` (a request's JSON item)."""

    cells: dict[str, Any]


@dataclass(frozen=True)
class RowId:
    """Where a predicted row came from: its input, its data row there (1-based: line ``row + 1`` of a CSV
    with a header), its id columns' values and (for the first rows of an input) its raw cells."""

    source: str
    row: int
    ids: dict[str, Any] = field(default_factory=dict)
    cells: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return f"{self.source} row {self.row}"


def open_input(item: Any) -> Table:
    """A prediction input as a table: a path, a DataFrame, an upload, or rows given inline."""
    if isinstance(item, InlineRow):
        item = [item]
    if isinstance(item, list) and item and all(isinstance(row, InlineRow) for row in item):
        return Table("<request>", "frame", pa.Table.from_pylist([_request_cells(row.cells) for row in item]))
    return open_table(item)


def _request_cells(cells: dict[str, Any]) -> dict[str, Any]:
    """A request's cells under text column names."""
    return {str(key): value for key, value in cells.items()}


def require_columns(table: Table, encoder: TableEncoder, ids: Sequence[str]) -> None:
    """Refuse a table that lacks a column the model reads, listing every one missing.

    Raises:
        DataError: Columns are missing (id columns are optional).
    """
    present = set(column_names(table))
    missing = [name for name in encoder.columns if name not in present]
    if missing:
        raise DataError(f"'{table.name}' lacks {'a column' if len(missing) == 1 else 'columns'} the model reads: "
                        f"{listing(missing, 8)}", expected="every column the model was trained on (an empty cell "
                        "counts as missing)", got=f"columns {listing(sorted(present), 8)}",
                        hint="add the missing columns, even empty")


def encoded_batches(table: Table, encoder: TableEncoder, ids: Sequence[str], batch_rows: int = BATCH_ROWS,
                    keep_cells: bool = False) -> Iterator[tuple[Encoded, list[RowId] | None, pa.RecordBatch]]:
    """The table's rows a batch at a time: encoded inputs, each row's id (when ``keep_cells`` or ids are
    wanted; None skips building a Python object per row, for scans of millions of rows) and the raw batch.

    Raises:
        DataError: A missing column, or a cell that does not fit its column (its row named).
    """
    require_columns(table, encoder, ids)
    present = set(column_names(table))
    wanted = [name for name in dict.fromkeys([*encoder.columns, *ids]) if name in present]
    first = 0
    for batch in record_batches(table, batch_rows, columns=wanted):
        encoded = encoder.encode(batch, table, first)
        row_ids = _row_ids(table, batch, first, ids, encoder.columns) if keep_cells else None
        yield encoded, row_ids, batch
        first += batch.num_rows


def _row_ids(table: Table, batch: pa.RecordBatch, first: int, ids: Sequence[str], columns: list[str]
             ) -> list[RowId]:
    id_values = {name: _plain(batch.column(name)) for name in ids if name in batch.schema.names}
    kept = max(0, min(batch.num_rows, CELLS_KEPT - first))
    cells = {name: _plain(batch.column(name).slice(0, kept)) for name in columns} if kept else {}
    return [RowId(table.name, first + index + 1,
                  {name: values[index] for name, values in id_values.items()},
                  {name: values[index] for name, values in cells.items()} if index < kept else None)
            for index in range(batch.num_rows)]


def _plain(array: pa.Array) -> list[Any]:
    """Cells as JSON-ready Python values: times as ISO text, decimals as floats."""
    if pa.types.is_timestamp(array.type) or pa.types.is_date(array.type) or pa.types.is_time(array.type):
        return [None if value is None else value.isoformat() for value in array.to_pylist()]
    if pa.types.is_decimal(array.type):
        return [None if value is None else float(value) for value in array.to_pylist()]
    if pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):
        return [None if value is None else value.hex() for value in array.to_pylist()]
    return array.to_pylist()


def table_inputs(inputs: Sequence[Any], state: dict[str, Any]) -> tuple[Any, list[RowId], TableEncoder]:
    """Every row of every input (files, DataFrames, runs of inline rows as one table), encoded with the bundle's
    encoding, as :class:`~torchworks.families.tabular.rows.EncodedRows` with their ids, and the encoder (which
    counted the values training never saw).

    Raises:
        DataError: An input cannot be read, lacks a column the model reads, or has a cell that does not fit.
    """
    from torchworks.families.tabular.rows import EncodedRows, concatenated

    encoder = TableEncoder(state["encoding"], state["columns"])
    parts, ids = [], []
    for item in _grouped(inputs):
        for encoded, row_ids, _ in encoded_batches(open_input(item), encoder, state["ids"], keep_cells=True):
            parts.append(encoded)
            ids += row_ids
    return EncodedRows(concatenated(parts)), ids, encoder


def _grouped(inputs: Sequence[Any]) -> list[Any]:
    """Inline rows given one after another form one table."""
    grouped: list[Any] = []
    for item in inputs:
        if isinstance(item, InlineRow) and grouped and isinstance(grouped[-1], list):
            grouped[-1].append(item)
        else:
            grouped.append([item] if isinstance(item, InlineRow) else item)
    return grouped


def is_table_input(item: Any) -> bool:
    """A path with a table suffix, a DataFrame, or inline rows."""
    from torchworks.families.tabular.reading import TABLE_SUFFIXES

    if isinstance(item, (InlineRow, list)):
        return True
    if isinstance(item, (str, Path)):
        return Path(item).suffix.lower() in TABLE_SUFFIXES
    return type(item).__name__ == "DataFrame"
