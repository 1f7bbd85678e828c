"""Reading and validating time-series tables: one or many series on a regular time grid.

:func:`load_series` reads a CSV, TSV, Parquet file or a DataFrame, finds the time and target
columns, sorts, infers the frequency, inserts missing timestamps and fills missing values.
Every problem is a :class:`DataError` naming the file, the column and the rows concerned: for
CSV/TSV files these are file line numbers (line 1 is the header, so the first data row is
line 2); for Parquet files and DataFrames they are 1-based row numbers.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pandas.tseries.frequencies import to_offset

from torchworks.errors import DataError, did_you_mean

TIME_NAMES = ("date", "time", "timestamp", "datetime", "ds", "year", "period")
FILLS = ("ffill", "interpolate", "none")
_MISSING_TEXT = frozenset({"", "nan", "na", "null"})
_SHOWN = 5


@dataclass
class Series:
    """One validated series on a regular grid.

    ``time`` is a DatetimeIndex or an integer Index of steps (sorted, unique, without gaps);
    ``target`` is float64 (n,) and ``covariates`` float64 (n, k), all finite.
    """

    id: str
    time: pd.Index
    target: np.ndarray
    covariates: np.ndarray


@dataclass
class SeriesTable:
    """All series of one source, sharing columns and frequency, plus what was fixed on the way."""

    series: list[Series]
    frequency: str | int
    time_column: str
    target_column: str
    covariate_columns: list[str]
    series_column: str | None
    notes: list[str] = field(default_factory=list)
    source: str = "<dataframe>"


@dataclass
class _Rows:
    """How rows of the source are named in messages: file lines, or rows of a frame."""

    source: str
    unit: str  # "line" or "row"
    first: int  # the number of the first data row

    def name(self, numbers: Sequence[int]) -> str:
        """``line 4`` or ``lines 4, 9, 12, 13, 20 and 3 more``."""
        numbers = [int(n) for n in numbers]
        if len(numbers) == 1:
            return f"{self.unit} {numbers[0]}"
        return f"{self.unit}s " + _listing([str(n) for n in numbers])


def _count(n: int, noun: str) -> str:
    """``1 row``, ``3 rows``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _listing(items: Sequence[str], limit: int = _SHOWN) -> str:
    """``a, b, c, d, e and 3 more``, or ``a and b``."""
    items = list(items)
    if len(items) > limit:
        return ", ".join(items[:limit]) + f" and {len(items) - limit} more"
    if len(items) > 1:
        return ", ".join(items[:-1]) + f" and {items[-1]}"
    return items[0] if items else ""


# ---------------------------------------------------------------------------------------- reading


def _read(source: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, _Rows]:
    """The raw table (CSV/TSV cells as text) and how its rows are numbered."""
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        if isinstance(frame.index, pd.DatetimeIndex):  # e.g. a statsmodels frame indexed by date
            frame = frame.reset_index(names=frame.index.name or "time")
        frame = frame.reset_index(drop=True)
        rows = _Rows("<dataframe>", "row", 1)
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


def _read_file(path: Path, name: str) -> tuple[pd.DataFrame, _Rows]:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path), _Rows(name, "row", 1)
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
    return frame, _Rows(name, "line", 2)


def _read_text(path: Path, separator: str) -> pd.DataFrame:
    # Everything as text so that "n/a" in a number column is reported, not silently made NaN;
    # blank lines are kept (and dropped later) so that row i is file line i + 2.
    return pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False, na_filter=False,
                       skip_blank_lines=False, encoding="utf-8-sig")


def _text(column: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Cells as stripped text, and which of them are missing (empty, NaN, "NA", "null")."""
    text = column.astype(object).where(column.notna(), "").astype(str).str.strip()
    missing = text.str.lower().isin(_MISSING_TEXT).to_numpy()
    return text, missing


def _blank_rows(frame: pd.DataFrame) -> np.ndarray:
    blank = np.ones(len(frame), dtype=bool)
    for name in frame.columns:
        blank &= _text(frame[name])[1]
    return blank


# ---------------------------------------------------------------------------------------- columns


def _column(frame: pd.DataFrame, name: str, role: str, rows: _Rows) -> str:
    if name in frame.columns:
        return name
    raise DataError(f"{role} column '{name}' is not in '{rows.source}'",
                    expected="one of its columns: " + ", ".join(frame.columns), got=f"'{name}'",
                    hint=did_you_mean(name, frame.columns))


def _find_time_column(frame: pd.DataFrame, rows: _Rows) -> str:
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
    text, missing = _text(column)
    parsed = pd.to_numeric(text[~missing], errors="coerce")
    return len(parsed) > 0 and parsed.notna().mean() >= 0.5


def _find_target_column(frame: pd.DataFrame, taken: set[str], rows: _Rows) -> str:
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


# ----------------------------------------------------------------------------------------- values


def _numbers(column: pd.Series, name: str, rows: _Rows, numbers: np.ndarray) -> np.ndarray:
    """float64 values with NaN for missing cells; text and infinities are errors naming the rows."""
    if ptypes.is_numeric_dtype(column) and not ptypes.is_bool_dtype(column):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
    else:
        text, missing = _text(column)
        parsed = pd.to_numeric(text.where(~missing, "nan"), errors="coerce").to_numpy(dtype="float64")
        bad = np.isnan(parsed) & ~missing
        if bad.any():
            shown = [f"'{text.iloc[i]}' on {rows.unit} {numbers[i]}" for i in np.flatnonzero(bad)]
            raise DataError(f"column '{name}' of '{rows.source}' has text where numbers belong",
                            expected="numbers (empty cells count as missing values)", got=_listing(shown),
                            hint="fix those cells, or leave them empty to be filled")
        values = parsed
    infinite = np.isinf(values)
    if infinite.any():
        raise DataError(f"column '{name}' of '{rows.source}' has infinite values", expected="finite numbers",
                        got=f"infinity on {rows.name(numbers[infinite])}", hint="fix or empty those cells")
    return values


def _times(column: pd.Series, name: str, rows: _Rows, numbers: np.ndarray) -> pd.Index:
    """Integer steps (whole numbers, even when stored as floats) or timestamps."""
    if ptypes.is_datetime64_any_dtype(column):
        stamps = pd.DatetimeIndex(column)
        _no_missing_times(np.asarray(stamps.isna()), name, rows, numbers)
        return stamps
    if ptypes.is_numeric_dtype(column) and not ptypes.is_bool_dtype(column):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        _no_missing_times(np.isnan(values), name, rows, numbers)
        return _steps(values, name, rows, numbers)
    text, missing = _text(column)
    _no_missing_times(missing, name, rows, numbers)
    parsed = pd.to_numeric(text, errors="coerce")
    if parsed.notna().all():
        return _steps(parsed.to_numpy(dtype="float64"), name, rows, numbers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            stamps = pd.to_datetime(text, errors="coerce")
        except ValueError:  # mixed UTC offsets: bring them to one zone
            stamps = pd.to_datetime(text, errors="coerce", utc=True)
    bad = stamps.isna().to_numpy()
    if bad.any():
        shown = [f"'{text.iloc[i]}' on {rows.unit} {numbers[i]}" for i in np.flatnonzero(bad)]
        raise DataError(f"time column '{name}' of '{rows.source}' has values that are not dates",
                        expected="dates or times in one format (e.g. 2024-01-31) or whole-number steps",
                        got=_listing(shown), hint="fix those cells, or name another column with time=COLUMN")
    return pd.DatetimeIndex(stamps)


def _no_missing_times(missing: np.ndarray, name: str, rows: _Rows, numbers: np.ndarray) -> None:
    if missing.any():
        raise DataError(f"time column '{name}' of '{rows.source}' has empty cells",
                        expected="a time on every row", got=f"empty on {rows.name(numbers[missing])}",
                        hint="fill in those times or delete those rows")


def _steps(values: np.ndarray, name: str, rows: _Rows, numbers: np.ndarray) -> pd.Index:
    fractional = values != np.floor(values)
    if fractional.any():
        shown = [f"{values[i]:g} on {rows.unit} {numbers[i]}" for i in np.flatnonzero(fractional)]
        raise DataError(f"time column '{name}' of '{rows.source}' has steps off the integer grid",
                        expected="whole-number steps (e.g. years 1700, 1701, ...) or dates", got=_listing(shown),
                        hint="fix those rows or delete them")
    return pd.Index(values.astype("int64"))


def _ids(column: pd.Series, name: str, rows: _Rows, numbers: np.ndarray) -> np.ndarray:
    """Series identifiers as text (whole-number floats without ``.0``)."""
    if ptypes.is_float_dtype(column) and np.all(column.dropna() == np.floor(column.dropna())):
        column = column.astype("Int64")
    text, missing = _text(column)
    if missing.any():
        raise DataError(f"series column '{name}' of '{rows.source}' has empty cells",
                        expected="a series name on every row", got=f"empty on {rows.name(numbers[missing])}",
                        hint="fill in the series names or delete those rows")
    return text.to_numpy(dtype=object)


# -------------------------------------------------------------------------------------- frequency


@lru_cache(maxsize=None)
def _alias(modern: str, legacy: str) -> str:
    """The offset alias this pandas understands (pandas 2.2 renamed M/A/Q/H to ME/YE/QE/h)."""
    try:
        to_offset(modern)
        return modern
    except ValueError:
        return legacy


def _keys(time: pd.Index) -> np.ndarray:
    return time.asi8 if isinstance(time, pd.DatetimeIndex) else np.asarray(time, dtype="int64")


def _infer_frequency(time: pd.Index) -> str | int | None:
    """The frequency of sorted, unique times; None when there are too few to tell."""
    if len(time) < 2:
        return None
    if not isinstance(time, pd.DatetimeIndex):
        differences, counts = np.unique(np.diff(np.asarray(time)), return_counts=True)
        return int(differences[np.argmax(counts)])
    if len(time) >= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inferred = pd.infer_freq(time)
        if inferred is not None:
            return to_offset(inferred).freqstr
    return _frequency_from_differences(time)


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _frequency_from_differences(time: pd.DatetimeIndex) -> str | None:
    """An offset alias from the most common difference (for series with missing timestamps)."""
    deltas = pd.Series(time[1:] - time[:-1])
    counts = deltas.value_counts()
    common = min(counts.index[counts == counts.max()])
    day = pd.Timedelta(days=1)
    if common % day != pd.Timedelta(0):
        for unit, alias in ((pd.Timedelta(hours=1), _alias("h", "H")), (pd.Timedelta(minutes=1), "min"),
                            (pd.Timedelta(seconds=1), "s")):
            if common % unit == pd.Timedelta(0):
                n = int(common // unit)
                return alias if n == 1 else f"{n}{alias}"
        return None
    days = int(common // day)
    first = time[0]
    if days == 1:
        weekdays_only = bool((time.day_of_week < 5).all()) and bool((deltas == 3 * day).any())
        return "B" if weekdays_only else "D"
    if days == 7:
        return "W-" + ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")[first.weekday()]
    starts, ends = bool(time.is_month_start.all()), bool(time.is_month_end.all())
    if 28 <= days <= 31:
        return "MS" if starts else _alias("ME", "M") if ends else None
    if 89 <= days <= 92:
        if starts:
            return f"QS-{_MONTHS[(first.month - 1) % 3]}"
        return f"{_alias('QE', 'Q')}-{_MONTHS[11 - (12 - first.month) % 3]}" if ends else None
    if 365 <= days <= 366:
        if starts:
            return f"{_alias('YS', 'AS')}-{_MONTHS[first.month - 1]}"
        return f"{_alias('YE', 'A')}-{_MONTHS[first.month - 1]}" if ends else None
    return f"{days}D"


def _grid(time: pd.Index, frequency: str | int) -> pd.Index:
    if isinstance(frequency, int):
        return pd.Index(np.arange(time[0], time[-1] + 1, frequency, dtype="int64"))
    return pd.date_range(time[0], time[-1], freq=frequency)


def _step(frequency: str | int) -> str:
    return f"step of {frequency}" if isinstance(frequency, int) else f"{frequency} step"


def _label(moment: object) -> str:
    if isinstance(moment, pd.Timestamp):
        text = moment.isoformat()
        return text[:10] if text.endswith("T00:00:00") else text
    return str(moment)


# ------------------------------------------------------------------------------------------ public


def load_series(source: str | Path | pd.DataFrame, *, time: str | None, target: str | None,
                covariates: list[str], series_id: str | None, fill: str,
                min_length: int = 1) -> SeriesTable:
    """Read and validate a table of one or many series (see the module docstring).

    Args:
        source: A CSV/TSV/Parquet path or a DataFrame.
        time: The time column; found by name (date, time, timestamp, ...) when None.
        target: The column to forecast; the only numeric column left when None.
        covariates: Extra numeric columns observed alongside the target.
        series_id: The column naming each series, or None for a single series.
        fill: How missing timestamps and values are filled: "ffill", "interpolate" or "none".
        min_length: The fewest steps (after filling) each series must have.
    """
    if fill not in FILLS:
        raise DataError(f"unknown fill '{fill}'", expected="one of " + ", ".join(FILLS), got=fill,
                        hint=did_you_mean(fill, FILLS))
    frame, rows = _read(source)
    numbers = np.arange(len(frame)) + rows.first
    blank = _blank_rows(frame)
    frame, numbers = frame[~blank].reset_index(drop=True), numbers[~blank]
    if frame.empty:
        raise DataError(f"'{rows.source}' has no data rows", expected="at least one row of values",
                        got="only empty lines", hint="check that the file was written completely")

    time_column = _column(frame, time, "time", rows) if time else _find_time_column(frame, rows)
    series_column = _column(frame, series_id, "series", rows) if series_id else None
    covariate_columns = [_column(frame, name, "covariate", rows) for name in covariates]
    taken = {time_column, *covariate_columns} | ({series_column} if series_column else set())
    target_column = _column(frame, target, "target", rows) if target else _find_target_column(frame, taken, rows)
    if target_column in taken:
        raise DataError(f"column '{target_column}' of '{rows.source}' is used twice",
                        expected="different time, target, series and covariate columns",
                        got=f"'{target_column}' as the target and as the time, series or a covariate",
                        hint="name each column once")

    times = _times(frame[time_column], time_column, rows, numbers)
    value_columns = [target_column, *covariate_columns]
    values = np.column_stack([_numbers(frame[c], c, rows, numbers) for c in value_columns])
    ids = _ids(frame[series_column], series_column, rows, numbers) if series_column else np.full(len(frame), "")

    notes: list[str] = []
    groups = {name: np.flatnonzero(ids == name) for name in sorted(set(ids.tolist()))}
    ordered = {name: _sorted(name, where, times, rows, numbers, notes) for name, where in groups.items()}
    frequency = _shared_frequency({name: times[where] for name, where in ordered.items()}, rows, notes)

    series = []
    for name, where in ordered.items():
        one = _regular(name, times[where], values[where], numbers[where], frequency, value_columns, fill, rows, notes)
        if len(one.target) < min_length:
            raise DataError(f"{_called(name)} in '{rows.source}' is too short",
                            expected=f"at least {min_length} steps", got=f"{len(one.target)} steps",
                            hint="use a longer series, or a shorter lookback/horizon")
        series.append(one)
    return SeriesTable(series=series, frequency=frequency, time_column=time_column, target_column=target_column,
                       covariate_columns=covariate_columns, series_column=series_column, notes=notes,
                       source=rows.source)


def _called(name: str) -> str:
    return f"series '{name}'" if name else "the series"


def _in(name: str) -> str:
    return f" of series '{name}'" if name else ""


def _sorted(name: str, where: np.ndarray, times: pd.Index, rows: _Rows, numbers: np.ndarray,
            notes: list[str]) -> np.ndarray:
    """``where`` in time order (stable); rows out of order are noted, duplicate times are errors."""
    keys = _keys(times[where])
    late = int(np.sum(keys[1:] < np.maximum.accumulate(keys)[:-1])) if len(keys) > 1 else 0
    order = np.argsort(keys, kind="stable")
    if late:
        notes.append(f"sorted {_count(late, 'row')}{_in(name)} that {'were' if late > 1 else 'was'} out of order")
    where, keys = where[order], keys[order]
    same = np.flatnonzero(keys[1:] == keys[:-1])
    if same.size:
        shown = []
        for key in np.unique(keys[same]):
            lines = numbers[where[keys == key]]
            shown.append(f"{_label(times[where[keys == key][0]])} on {rows.name(sorted(lines))}")
        hint = "remove or aggregate the duplicate rows"
        if not name:
            hint += ", or name the column that tells series apart with series_id=COLUMN"
        raise DataError(f"duplicate timestamps{_in(name)} in '{rows.source}'",
                        expected="one row per time" + (" and series" if name else ""), got=_listing(shown), hint=hint)
    return where


def _shared_frequency(times: dict[str, pd.Index], rows: _Rows, notes: list[str]) -> str | int:
    """The one frequency of all series (an error when they differ or are irregular)."""
    found = {name: _infer_frequency(t) for name, t in times.items()}
    known = {name: f for name, f in found.items() if f is not None}
    bad = [_called(n) for n, t in times.items() if len(t) >= 2 and found[n] is None]
    if bad:
        raise DataError(f"cannot work out a regular frequency for {_listing(bad)} in '{rows.source}'",
                        expected="timestamps at a regular step (hourly, daily, weekly, month starts or ends, ...)",
                        got="irregular timestamps", hint="resample the data to a regular frequency")
    distinct = sorted({str(f) for f in known.values()})
    if len(distinct) > 1:
        shown = [f"{_called(n)}: {f}" for n, f in known.items()]
        raise DataError(f"the series of '{rows.source}' have different frequencies",
                        expected="one frequency for all series", got=_listing(shown),
                        hint="resample them to one frequency, or train on them separately")
    if known:
        return next(iter(known.values()))
    sample = next(iter(times.values()))
    if isinstance(sample, pd.DatetimeIndex):
        notes.append("every series has a single timestamp, so the frequency is unknown; assumed daily")
        return "D"
    return 1


def _regular(name: str, time: pd.Index, values: np.ndarray, numbers: np.ndarray, frequency: str | int,
             columns: list[str], fill: str, rows: _Rows, notes: list[str]) -> Series:
    """One series on its full grid: off-grid times are errors, gaps and empty cells are filled."""
    grid = _grid(time, frequency)
    grid_name = f"step-{frequency}" if isinstance(frequency, int) else frequency
    position = grid.get_indexer(time)
    off = position < 0
    if off.any():
        shown = [f"{_label(time[i])} on {rows.unit} {numbers[i]}" for i in np.flatnonzero(off)]
        raise DataError(f"timestamps{_in(name)} in '{rows.source}' are off the {grid_name} grid",
                        expected=f"a time at every {_step(frequency)} from {_label(time[0])}",
                        got=_listing(shown), hint="fix or delete those rows, or resample the data")
    full = np.full((len(grid), values.shape[1]), np.nan)
    full[position] = values
    origin = np.full(len(grid), -1)
    origin[position] = numbers
    inserted = origin < 0
    missing = np.isnan(full)
    if fill == "none" and missing.any():
        problems = []
        if inserted.any():
            problems.append("missing timestamps " + _listing([_label(t) for t in grid[inserted]]))
        cells = missing.any(axis=1) & ~inserted
        if cells.any():
            problems.append(f"empty cells on {rows.name(origin[cells])}")
        raise DataError(f"{_called(name)} in '{rows.source}' has gaps",
                        expected=f"a value at every {_step(frequency)}", got="; ".join(problems),
                        hint="fill=interpolate or fill=ffill fills them")
    if inserted.any():
        notes.append(f"inserted {_count(int(inserted.sum()), 'missing timestamp')}{_in(name)} "
                     f"({_listing([_label(t) for t in grid[inserted]])})")
    for j, column in enumerate(columns):
        gaps = missing[:, j]
        if gaps.all():
            raise DataError(f"column '{column}'{_in(name)} in '{rows.source}' has no values",
                            expected="at least one number", got="only empty cells", hint="fill in the column")
        if gaps.any():
            full[:, j], how = _filled(full[:, j], gaps, fill)
            notes.append(f"filled {_count(int(gaps.sum()), 'missing value')} in {column}{_in(name)} by {how} "
                         f"({_where(origin[gaps], rows)})")
    return Series(id=name, time=grid, target=full[:, 0].copy(), covariates=full[:, 1:].copy())


def _filled(column: np.ndarray, gaps: np.ndarray, fill: str) -> tuple[np.ndarray, str]:
    observed = np.flatnonzero(~gaps)
    if fill == "interpolate":
        return np.interp(np.arange(len(column)), observed, column[observed]), "linear interpolation"
    filled = pd.Series(column).ffill().bfill().to_numpy()
    leading = int(observed[0])
    how = "forward fill"
    if leading:
        how += f", {_count(leading, 'leading value')} back-filled from the first observed"
    return filled, how


def _where(origin: np.ndarray, rows: _Rows) -> str:
    lines = origin[origin >= 0]
    inserted = int(np.sum(origin < 0))
    parts = [rows.name(lines)] if lines.size else []
    if inserted:
        parts.append(_count(inserted, "inserted timestamp"))
    return " and ".join(parts)


def future_times(last: object, frequency: str | int, steps: int) -> list:
    """The ``steps`` times after ``last`` at ``frequency``: Timestamps, or ints for integer steps."""
    if isinstance(frequency, (int, np.integer)):
        return [int(last) + int(frequency) * i for i in range(1, steps + 1)]
    start = pd.Timestamp(last)
    offset = to_offset(frequency)
    return [start + offset * i for i in range(1, steps + 1)]


_SEASONS = {"h": 24, "H": 24, "D": 7, "B": 5, "W": 52, "MS": 12, "ME": 12, "M": 12, "BMS": 12, "BME": 12,
            "BM": 12, "QS": 4, "QE": 4, "Q": 4, "BQS": 4, "BQE": 4, "BQ": 4, "YS": 1, "YE": 1, "Y": 1, "A": 1,
            "AS": 1, "BYS": 1, "BYE": 1, "min": 60, "T": 60}


def season_of(frequency: str | int) -> int:
    """The usual season length: hourly 24, daily 7, business-daily 5, weekly 52, monthly 12,
    quarterly 4, yearly 1, integer steps 1 (a multiple such as ``2h`` divides it when it can)."""
    if isinstance(frequency, (int, np.integer)):
        return 1
    offset = to_offset(frequency)
    base = offset.freqstr.lstrip("-0123456789").split("-")[0]
    season = _SEASONS.get(base, 1)
    n = abs(offset.n)
    return season // n if n > 1 and season % n == 0 else (1 if n > 1 else season)
