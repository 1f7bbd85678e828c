"""Reading a user's table (CSV, TSV, JSON lines, Parquet or a DataFrame), with rows named as the user
sees them.

CSV/TSV cells are read as text so that nothing is silently coerced; problems name file line numbers
(line 1 is the header), JSON lines by their line, and Parquet files and DataFrames by 1-based row.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from torchworks.errors import DataError, did_you_mean
from torchworks.uploads import Upload

_MISSING_TEXT = frozenset({"", "nan", "na", "null"})
_SHOWN = 5
JSON_LINES = (".jsonl", ".ndjson")


@dataclass
class Rows:
    """How rows of the source are named in messages: file lines, or rows of a frame."""

    source: str
    unit: str  # "line" or "row"
    first: int  # the number of the first data row

    def name(self, numbers: Sequence[int]) -> str:
        """``line 4`` or ``lines 4, 9, 12, 13, 20 and 3 more``."""
        numbers = [int(n) for n in numbers]
        if len(numbers) == 1:
            return f"{self.unit} {numbers[0]}"
        return f"{self.unit}s " + listing([str(n) for n in numbers])


def counted(n: int, noun: str) -> str:
    """``1 row``, ``3 rows``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def listing(items: Sequence[str], limit: int = _SHOWN) -> str:
    """``a, b, c, d, e and 3 more``, or ``a and b``."""
    items = list(items)
    if len(items) > limit:
        return ", ".join(items[:limit]) + f" and {len(items) - limit} more"
    if len(items) > 1:
        return ", ".join(items[:-1]) + f" and {items[-1]}"
    return items[0] if items else ""


def read_source(
    source: str | Path | pd.DataFrame | Upload, what: str = "a CSV, TSV or Parquet file", encoding: str = "utf-8"
) -> tuple[pd.DataFrame, Rows]:
    """The raw table (CSV/TSV cells as text) and how its rows are numbered.

    Args:
        source: A file path, a DataFrame, or an uploaded file (read by its name's suffix).
        what: What the caller needs, for messages ("a CSV of texts and labels").
        encoding: The file's text encoding; bytes that do not decode are reported by line.
    """
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        if isinstance(frame.index, pd.DatetimeIndex):  # e.g. a statsmodels frame indexed by date
            frame = frame.reset_index(names=frame.index.name or "time")
        frame = frame.reset_index(drop=True)
        rows = Rows("<dataframe>", "row", 1)
    elif isinstance(source, Upload):
        _require_bytes(len(source.data), source.name, what)
        frame, rows = _read_bytes(source.data, source.name, source.suffix, encoding)
    else:
        path = Path(source)
        name = str(source)
        if not path.exists():
            raise DataError(f"'{name}' does not exist", expected=what, got="no such file", hint="check the path")
        if path.is_dir():
            raise DataError(f"'{name}' is a folder", expected=what, got="a folder", hint="name the file inside it")
        _require_bytes(path.stat().st_size, name, what)
        frame, rows = _read_bytes(path.read_bytes(), name, path.suffix.lower(), encoding)
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataError(f"'{rows.source}' has no data rows", expected="a header and at least one row of values",
                        got=f"columns {', '.join(map(str, frame.columns)) or 'none'} and no rows",
                        hint="check that the file was written completely")
    return frame, rows


def _require_bytes(size: int, name: str, what: str) -> None:
    if size == 0:
        raise DataError(f"'{name}' is empty", expected=f"{what} with a header line and rows", got="0 bytes",
                        hint="check that the file was written completely")


def _read_bytes(data: bytes, name: str, suffix: str, encoding: str) -> tuple[pd.DataFrame, Rows]:
    if suffix in (".parquet", ".pq"):
        try:
            return pd.read_parquet(io.BytesIO(data)), Rows(name, "row", 1)
        except Exception as error:  # noqa: BLE001  (pyarrow raises many kinds for a corrupt file)
            raise DataError(f"'{name}' cannot be read as Parquet", expected="a valid Parquet file",
                            got=f"{type(error).__name__}: {error}"[:300],
                            hint="write it again, or save it as CSV") from None
    text = decode_text(data, name, encoding)
    if suffix in JSON_LINES:
        return _json_lines(text, name), Rows(name, "line", 1)
    separator = "\t" if suffix in (".tsv", ".tab") else ","
    try:
        frame = _read_text(text, separator)
        if separator == "," and frame.shape[1] == 1 and ";" in str(frame.columns[0]):
            frame = _read_text(text, ";")  # a semicolon-separated "CSV"
    except pd.errors.EmptyDataError:
        raise DataError(f"'{name}' is empty", expected="a header line and rows of values", got="no columns",
                        hint="check that the file was written completely") from None
    except (pd.errors.ParserError, ValueError) as error:
        raise DataError(f"'{name}' cannot be read as {'TSV' if separator == chr(9) else 'CSV'}",
                        expected="one header line and the same number of fields on each line",
                        got=str(error).strip().splitlines()[-1][:300],
                        hint="open it in a text editor and check the line named") from None
    return frame, Rows(name, "line", 2)


def decode_text(data: bytes, name: str, encoding: str = "utf-8") -> str:
    """Bytes as text; bytes that are not valid in ``encoding`` are an error naming their lines."""
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except LookupError:
        raise DataError(f"unknown text encoding '{encoding}'", expected="an encoding Python knows",
                        got=repr(encoding), hint="for example encoding=utf-8, cp1252 or latin-1") from None
    except UnicodeDecodeError:
        bad = [i + 1 for i, line in enumerate(data.split(b"\n")) if not _decodes(line, codec)]
        raise DataError(f"'{name}' is not valid {encoding} text",
                        expected=f"{encoding} text", got=f"bytes that are not {encoding} on "
                        f"line{'s' if len(bad) > 1 else ''} {listing([str(n) for n in bad])}",
                        hint="save the file as UTF-8, or give its encoding (for example encoding=cp1252 for "
                        "files from Excel on Windows)") from None


def _decodes(line: bytes, codec: str) -> bool:
    try:
        line.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _read_text(text: str, separator: str) -> pd.DataFrame:
    # Everything as text so that "n/a" in a number column is reported, not silently made NaN;
    # blank lines are kept (and dropped later) so that row i is file line i + 2.
    return pd.read_csv(io.StringIO(text), sep=separator, dtype=str, keep_default_na=False, na_filter=False,
                       skip_blank_lines=False)


def _json_lines(text: str, name: str) -> pd.DataFrame:
    """One JSON object per line; a blank line is a blank row, so row i is line i + 1."""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            records.append({})
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise DataError(f"line {number} of '{name}' is not valid JSON", expected="one JSON object per line",
                            got=str(error)[:200], hint="fix that line or delete it") from None
        if not isinstance(record, dict):
            raise DataError(f"line {number} of '{name}' is not a JSON object", expected='{"column": value, ...}',
                            got=type(record).__name__, hint="write one object per line")
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    return frame.astype(object).where(frame.notna(), "")


def as_text(column: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Cells as stripped text, and which of them are missing (empty, NaN, "NA", "null")."""
    text = column.astype(object).where(column.notna(), "").astype(str).str.strip()
    missing = text.str.lower().isin(_MISSING_TEXT).to_numpy()
    return text, missing


def blank_rows(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is missing."""
    blank = np.ones(len(frame), dtype=bool)
    for name in frame.columns:
        blank &= as_text(frame[name])[1]
    return blank


def require_column(frame: pd.DataFrame, name: str, role: str, rows: Rows) -> str:
    """``name`` if the frame has it, else an error listing the columns that exist."""
    if name in frame.columns:
        return name
    raise DataError(f"{role} column '{name}' is not in '{rows.source}'",
                    expected="one of its columns: " + ", ".join(frame.columns), got=f"'{name}'",
                    hint=did_you_mean(name, frame.columns))


def find_column(frame: pd.DataFrame, names: Sequence[str]) -> str | None:
    """The first column called one of ``names`` (any case), or None."""
    lowered = {str(c).lower(): c for c in reversed(list(frame.columns))}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None
