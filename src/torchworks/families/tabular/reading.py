"""A user's table as a stream of Arrow record batches: CSV, TSV, JSON lines, Parquet, an upload or a
DataFrame, never loaded whole, with rows named the way the user sees them (file lines for text files,
1-based rows for Parquet and DataFrames).

CSV and TSV cells are read as text and converted by the column encoders, so that a word in a column of
numbers is reported with its line rather than silently made missing. A file is checked before the first
batch: a 0-byte file, a folder, or a ``.parquet`` that is really text are each one clear error.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from torchworks.errors import DataError
from torchworks.uploads import Upload

PARQUET = (".parquet", ".pq")
JSON_LINES = (".jsonl", ".ndjson")
DELIMITED = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": ","}
TABLE_SUFFIXES = (*DELIMITED, *PARQUET, *JSON_LINES)
MISSING_TEXT = ("", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None")
BATCH_ROWS = 65_536
_WHAT = "a table (.csv, .tsv, .parquet or .jsonl)"


@dataclass(frozen=True)
class Table:
    """An opened table source: its name for messages, its format and how its rows are numbered."""

    name: str
    format: str  # "delimited", "parquet", "jsonl" or "frame"
    source: Any  # a path, the bytes of an upload, or an Arrow table (from a DataFrame)
    delimiter: str = ","

    @property
    def unit(self) -> str:
        """What a row is called in messages: ``line`` for text files, ``row`` otherwise."""
        return "line" if self.format in ("delimited", "jsonl") else "row"

    def row_name(self, index: int) -> str:
        """``line 12`` (a CSV's header is line 1) or ``row 11``, for the 0-based data row ``index``."""
        offset = 2 if self.format == "delimited" else 1
        return f"{self.unit} {int(index) + offset}"

    def rows(self) -> int | None:
        """The number of data rows when the format records it (Parquet, a DataFrame), else None."""
        if self.format == "parquet":
            return _parquet_file(self).metadata.num_rows
        if self.format == "frame":
            return self.source.num_rows
        return None


def open_table(source: str | Path | Upload | Any) -> Table:
    """Check ``source`` and say how to read it, reading no more than its first bytes.

    Raises:
        DataError: A missing path, a folder, a 0-byte file, a suffix that is not a table, or a
            ``.parquet`` file that is not Parquet.
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        frame = source.reset_index(drop=True)
        frame.columns = [str(column).strip() for column in frame.columns]
        return Table("<dataframe>", "frame", pa.Table.from_pandas(frame, preserve_index=False))
    if isinstance(source, Upload):
        name, suffix, head, size = source.name, source.suffix, source.data[:4096], len(source.data)
        payload: Any = source.data
    else:
        path = Path(source)
        name, suffix = str(source), path.suffix.lower()
        if not path.exists():
            raise DataError(f"'{name}' does not exist", expected=_WHAT, got="no such file", hint="check the path")
        if path.is_dir():
            raise DataError(f"'{name}' is a folder", expected=_WHAT, got="a folder", hint="name the file inside it")
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(4096)
        payload = path
    if suffix not in TABLE_SUFFIXES:
        raise DataError(f"'{name}' is not a table file", expected=_WHAT, got=f"a '{suffix or 'suffixless'}' file",
                        hint="save it as CSV or Parquet")
    if size == 0:
        raise DataError(f"'{name}' is empty", expected=f"{_WHAT} with a header and rows", got="0 bytes",
                        hint="check that the file was written completely")
    if suffix in PARQUET:
        _require_parquet(name, head)
        return Table(name, "parquet", payload)
    if suffix in JSON_LINES:
        return Table(name, "jsonl", payload)
    return Table(name, "delimited", payload, DELIMITED[suffix])


def _require_parquet(name: str, head: bytes) -> None:
    if head[:4] == b"PAR1":
        return
    text = head.split(b"\n", 1)[0][:80]
    looks = f"text beginning '{text.decode('utf-8', 'replace')}'" if text.isascii() and text.strip() \
        else f"bytes beginning {head[:8]!r}"
    raise DataError(f"'{name}' is not a Parquet file", expected="a Parquet file (it starts with PAR1)", got=looks,
                    hint="a CSV saved with a .parquet name: rename it to .csv")


def column_names(table: Table) -> list[str]:
    """The table's column names, in file order, read from its header or schema only."""
    if table.format == "frame":
        return list(table.source.column_names)
    if table.format == "parquet":
        return list(_parquet_file(table).schema_arrow.names)
    if table.format == "delimited":
        return _header(table)
    first = next(record_batches(table, 1024), None)
    return list(first.schema.names) if first is not None else []


def record_batches(table: Table, batch_rows: int = BATCH_ROWS, columns: list[str] | None = None
                   ) -> Iterator[pa.RecordBatch]:
    """The table's rows in order as record batches of at most about ``batch_rows`` rows (CSV and JSON
    batches follow byte blocks, so they vary in size). Only ``columns`` are read when given.

    Raises:
        DataError: The file cannot be parsed (the message names it and, where pyarrow says, the row).
    """
    try:
        if table.format == "frame":
            selected = table.source.select(columns) if columns is not None else table.source
            yield from selected.to_batches(max_chunksize=batch_rows)
        elif table.format == "parquet":
            yield from _parquet_file(table).iter_batches(batch_size=batch_rows, columns=columns)
        elif table.format == "delimited":
            yield from _delimited_batches(table, batch_rows, columns)
        else:
            yield from _json_batches(table, batch_rows, columns)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as error:
        kind = {"delimited": "CSV" if table.delimiter == "," else "TSV", "jsonl": "JSON lines"}.get(table.format,
                                                                                                     "Parquet")
        raise DataError(f"'{table.name}' cannot be read as {kind}", expected=f"a valid {kind} file",
                        got=str(error).strip().splitlines()[0][:300],
                        hint="open it and check the row named, or write it again") from None


def _parquet_file(table: Table) -> Any:
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(pa.BufferReader(table.source) if isinstance(table.source, bytes) else table.source)
    except (pa.ArrowInvalid, OSError) as error:
        raise DataError(f"'{table.name}' cannot be read as Parquet", expected="a valid Parquet file",
                        got=str(error).strip()[:300], hint="write it again, or save it as CSV") from None


def _stream(table: Table) -> Any:
    return pa.BufferReader(table.source) if isinstance(table.source, bytes) else str(table.source)


def _header(table: Table) -> list[str]:
    """The header line's fields (BOM and surrounding spaces removed)."""
    if isinstance(table.source, bytes):
        first = table.source.split(b"\n", 1)[0]
    else:
        with open(table.source, "rb") as handle:
            first = handle.readline()
    line = first.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    return [name.strip() for name in next(csv.reader(io.StringIO(line), delimiter=table.delimiter), [])]


def _delimited_batches(table: Table, batch_rows: int, columns: list[str] | None) -> Iterator[pa.RecordBatch]:
    from pyarrow import csv as pacsv

    names = _header(table)
    if not names or not any(names):
        raise DataError(f"'{table.name}' has no header line", expected="a first line naming the columns",
                        got="an empty first line", hint="add a header line")
    read = pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=max(1 << 16, batch_rows * 64))
    parse = pacsv.ParseOptions(delimiter=table.delimiter, newlines_in_values=False)
    convert = pacsv.ConvertOptions(column_types={name: pa.string() for name in names}, null_values=list(MISSING_TEXT),
                                   strings_can_be_null=True, include_columns=columns)
    with pacsv.open_csv(_stream(table), read_options=read, parse_options=parse, convert_options=convert) as reader:
        for batch in reader:
            yield from _split(batch, batch_rows)


def _json_batches(table: Table, batch_rows: int, columns: list[str] | None) -> Iterator[pa.RecordBatch]:
    from pyarrow import json as pajson

    read = pajson.ReadOptions(block_size=max(1 << 16, batch_rows * 64))
    for batch in pajson.open_json(_stream(table), read_options=read):
        yield from _split(batch.select(columns) if columns is not None else batch, batch_rows)


def _split(batch: pa.RecordBatch, rows: int) -> Iterator[pa.RecordBatch]:
    for start in range(0, batch.num_rows, rows):
        yield batch.slice(start, rows)


def read_rows(table: Table, max_rows: int, seed: int = 0, batch_rows: int = BATCH_ROWS
              ) -> tuple[pa.Table, np.ndarray, int]:
    """Up to ``max_rows`` rows drawn uniformly from the whole table, in file order, with their 0-based
    row numbers and the table's row count. Memory holds the sample and one batch, whatever the file's size
    (each row gets a random key; the ``max_rows`` smallest keys are kept as batches stream past).

    Raises:
        DataError: The table has a header but no rows, or cannot be parsed.
    """
    rng = np.random.default_rng(seed)
    kept: pa.Table | None = None
    keys = numbers = np.empty(0)
    total = 0
    for batch in record_batches(table, batch_rows):
        batch_keys = rng.random(batch.num_rows)
        batch_numbers = np.arange(total, total + batch.num_rows)
        total += batch.num_rows
        merged = pa.Table.from_batches([batch]) if kept is None else pa.concat_tables(
            [kept, pa.Table.from_batches([batch]).cast(kept.schema)], promote_options="none")
        keys, numbers = np.concatenate([keys, batch_keys]), np.concatenate([numbers, batch_numbers])
        if len(keys) > max_rows:
            chosen = np.sort(np.argpartition(keys, max_rows)[:max_rows])
            merged, keys, numbers = merged.take(chosen), keys[chosen], numbers[chosen]
        kept = merged.combine_chunks()
    if kept is None or total == 0:
        raise DataError(f"'{table.name}' has no data rows", expected="a header and at least one row",
                        got=f"columns {', '.join(column_names(table)) or 'none'} and no rows",
                        hint="check that the file was written completely")
    return kept, numbers.astype(np.int64), total
