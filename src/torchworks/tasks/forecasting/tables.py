"""Reading a table of series and resolving its columns, with rows named as the user sees them.

CSV/TSV cells are read as text so that nothing is silently coerced; problems name file line
numbers (line 1 is the header) or, for Parquet files and DataFrames, 1-based row numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from torchworks.errors import DataError, did_you_mean

TIME_NAMES = ("date", "time", "timestamp", "datetime", "ds", "year", "period")


_MISSING_TEXT = frozenset({"", "nan", "na", "null"})


_SHOWN = 5


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


def read_source(source: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, Rows]:
    """The raw table (CSV/TSV cells as text) and how its rows are numbered."""
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        if isinstance(frame.index, pd.DatetimeIndex):  # e.g. a statsmodels frame indexed by date
            frame = frame.reset_index(names=frame.index.name or "time")
        frame = frame.reset_index(drop=True)
        rows = Rows("<dataframe>", "row", 1)
    else:
        path = Path(source)
        name = str(source)
        if not path.exists():
            raise DataError(f"'{name}' does not exist", expected="a CSV, TSV or Parquet file of time series",
                            got="no such file", hint="check the path")
        if path.is_dir():
            raise DataError(f"'{name}' is a folder", expected="a CSV, TSV or Parquet file of time series",
                            got="a folder", hint="name the file inside it")
        if path.stat().st_size == 0:
            raise DataError(f"'{name}' is empty", expected="a header line and rows of values", got="0 bytes",
                            hint="check that the file was written completely")
        frame, rows = _read_file(path, name)
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataError(f"'{rows.source}' has no data rows", expected="a header and at least one row of values",
                        got=f"columns {', '.join(map(str, frame.columns)) or 'none'} and no rows",
                        hint="check that the file was written completely")
    return frame, rows


def _read_file(path: Path, name: str) -> tuple[pd.DataFrame, Rows]:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path), Rows(name, "row", 1)
        except Exception as error:  # noqa: BLE001  (pyarrow raises many kinds for a corrupt file)
            raise DataError(f"'{name}' cannot be read as Parquet", expected="a valid Parquet file",
                            got=f"{type(error).__name__}: {error}"[:300],
                            hint="write it again, or save it as CSV") from None
    separator = "\t" if suffix in (".tsv", ".tab") else ","
    try:
        frame = _read_text(path, separator)
        if separator == "," and frame.shape[1] == 1 and ";" in str(frame.columns[0]):
            frame = _read_text(path, ";")  # a semicolon-separated "CSV"
    except pd.errors.EmptyDataError:
        raise DataError(f"'{name}' is empty", expected="a header line and rows of values", got="no columns",
                        hint="check that the file was written completely") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise DataError(f"'{name}' cannot be read as {'TSV' if separator == chr(9) else 'CSV'}",
                        expected="UTF-8 text with one header line and the same number of fields on each line",
                        got=str(error).strip().splitlines()[-1][:300],
                        hint="open it in a text editor and check the line named") from None
    return frame, Rows(name, "line", 2)


def _read_text(path: Path, separator: str) -> pd.DataFrame:
    # Everything as text so that "n/a" in a number column is reported, not silently made NaN;
    # blank lines are kept (and dropped later) so that row i is file line i + 2.
    return pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False, na_filter=False,
                       skip_blank_lines=False, encoding="utf-8-sig")


def as_text(column: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Cells as stripped text, and which of them are missing (empty, NaN, "NA", "null")."""
    text = column.astype(object).where(column.notna(), "").astype(str).str.strip()
    missing = text.str.lower().isin(_MISSING_TEXT).to_numpy()
    return text, missing


def blank_rows(frame: pd.DataFrame) -> np.ndarray:
    blank = np.ones(len(frame), dtype=bool)
    for name in frame.columns:
        blank &= as_text(frame[name])[1]
    return blank


def require_column(frame: pd.DataFrame, name: str, role: str, rows: Rows) -> str:
    if name in frame.columns:
        return name
    raise DataError(f"{role} column '{name}' is not in '{rows.source}'",
                    expected="one of its columns: " + ", ".join(frame.columns), got=f"'{name}'",
                    hint=did_you_mean(name, frame.columns))


def find_time_column(frame: pd.DataFrame, rows: Rows) -> str:
    lowered = {str(c).lower(): c for c in reversed(list(frame.columns))}
    for name in TIME_NAMES:
        if name in lowered:
            return lowered[name]
    raise DataError(f"no time column found in '{rows.source}'",
                    expected="a column named " + ", ".join(TIME_NAMES) + " (any case)",
                    got="columns " + ", ".join(frame.columns), hint="time=COLUMN names the column of dates or steps")


def _mostly_numeric(column: pd.Series) -> bool:
    if ptypes.is_bool_dtype(column):
        return False
    if ptypes.is_numeric_dtype(column):
        return bool(column.notna().any())
    text, missing = as_text(column)
    parsed = pd.to_numeric(text[~missing], errors="coerce")
    return len(parsed) > 0 and parsed.notna().mean() >= 0.5


def find_target_column(frame: pd.DataFrame, taken: set[str], rows: Rows) -> str:
    remaining = [c for c in frame.columns if c not in taken]
    candidates = [c for c in remaining if _mostly_numeric(frame[c])]
    if not candidates and len(remaining) == 1:
        candidates = remaining  # the only column left: its text cells are reported as such
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise DataError(f"no numeric column to forecast in '{rows.source}'",
                        expected="one numeric column besides the time, series and covariate columns",
                        got="columns " + ", ".join(frame.columns), hint="target=COLUMN names the column to forecast")
    raise DataError(f"several numeric columns in '{rows.source}' could be the target",
                    expected="exactly one", got=", ".join(candidates),
                    hint=f"target=COLUMN names the one to forecast (e.g. target={candidates[0]}); "
                         "the others can be covariates")


def numeric_values(column: pd.Series, name: str, rows: Rows, numbers: np.ndarray) -> np.ndarray:
    """float64 values with NaN for missing cells; text and infinities are errors naming the rows."""
    if ptypes.is_numeric_dtype(column) and not ptypes.is_bool_dtype(column):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
    else:
        text, missing = as_text(column)
        parsed = pd.to_numeric(text.where(~missing, "nan"), errors="coerce").to_numpy(dtype="float64")
        bad = np.isnan(parsed) & ~missing
        if bad.any():
            shown = [f"'{text.iloc[i]}' on {rows.unit} {numbers[i]}" for i in np.flatnonzero(bad)]
            raise DataError(f"column '{name}' of '{rows.source}' has text where numbers belong",
                            expected="numbers (empty cells count as missing values)", got=listing(shown),
                            hint="fix those cells, or leave them empty to be filled")
        values = parsed
    infinite = np.isinf(values)
    if infinite.any():
        raise DataError(f"column '{name}' of '{rows.source}' has infinite values", expected="finite numbers",
                        got=f"infinity on {rows.name(numbers[infinite])}", hint="fix or empty those cells")
    return values


def series_ids(column: pd.Series, name: str, rows: Rows, numbers: np.ndarray) -> np.ndarray:
    """Series identifiers as text (whole-number floats without ``.0``)."""
    if ptypes.is_float_dtype(column) and np.all(column.dropna() == np.floor(column.dropna())):
        column = column.astype("Int64")
    text, missing = as_text(column)
    if missing.any():
        raise DataError(f"series column '{name}' of '{rows.source}' has empty cells",
                        expected="a series name on every row", got=f"empty on {rows.name(numbers[missing])}",
                        hint="fill in the series names or delete those rows")
    return text.to_numpy(dtype=object)
