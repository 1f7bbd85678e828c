"""Reading and validating time-series tables: one or many series on a regular time grid.

:func:`load_series` reads a CSV, TSV, Parquet file or a DataFrame, finds the time and target
columns, sorts, infers the frequency, inserts missing timestamps and fills missing values.
Every problem is a :class:`DataError` naming the file, the column and the rows concerned: for
CSV/TSV files these are file line numbers (line 1 is the header, so the first data row is
line 2); for Parquet files and DataFrames they are 1-based row numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from torchworks.errors import DataError, did_you_mean
from torchworks.tasks.forecasting.frequency import (
    future_times,
    infer_frequency,
    moment_text,
    parse_times,
    regular_grid,
    season_of,
    step_text,
    time_keys,
)
from torchworks.tables import Rows, blank_rows, counted, listing, read_source, require_column
from torchworks.tasks.forecasting.tables import find_target_column, find_time_column, numeric_values, series_ids

__all__ = ["FILLS", "Series", "SeriesTable", "future_times", "load_series", "match_columns", "season_of",
           "series_table", "Wanted"]

FILLS = ("ffill", "interpolate", "none")


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


# ---------------------------------------------------------------------------------------- reading


# ---------------------------------------------------------------------------------------- columns


@dataclass(frozen=True)
class Wanted:
    """A column a trained model reads: its role, the setting that names it (``time``), its name in
    training, and the input's name for it when the user gave one (``time=YEAR``)."""

    role: str
    setting: str
    name: str
    given: str | None = None
    order: str = ""  # for one of several columns named by one setting (covariates): all of them, in order


def match_columns(frame: pd.DataFrame, rows: Rows, wanted: list[Wanted]) -> pd.DataFrame:
    """The input's columns for a trained model's, renamed to the model's names (other columns dropped).

    Each column is looked up by the input's name for it when given, else by its training name: the
    exact name first, then ignoring case and surrounding spaces (``YEAR`` and `` Year `` are ``year``).

    Raises:
        DataError: A column not found (with the input's columns and how to name one), two columns that
            match one name when case is ignored (naming both), or one input column asked for twice.
    """
    found: dict[str, str] = {}
    roles: dict[str, list[str]] = {}
    for column in wanted:
        name = _input_column(frame, rows, column)
        found[column.name] = name
        roles.setdefault(name, []).append(f"{column.role} ({column.name})")
    for name, used in roles.items():
        if len(used) > 1:
            raise DataError(f"column '{name}' of '{rows.source}' is asked for twice",
                            expected="a different column for each column the model reads",
                            got=f"'{name}' as the {listing(used)}",
                            hint="name each input column once (time=, target=, covariates=, series_id=)")
    return frame[list(found.values())].set_axis(list(found), axis=1)


def _input_column(frame: pd.DataFrame, rows: Rows, column: Wanted) -> str:
    name = (column.given or column.name).strip()
    if name in frame.columns:
        return name
    matches = [c for c in frame.columns if str(c).strip().casefold() == name.casefold()]
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = listing([f"'{c}'" for c in matches])
        raise DataError(f"columns {shown} of '{rows.source}' {'both' if len(matches) == 2 else 'all'} match the {column.role} column '{name}' "
                        "when case is ignored", expected=f"one column called '{name}' in any case", got=shown,
                        hint=f"say which with {column.setting}={matches[0]}, or drop the other{'s' if len(matches) > 2 else ''}")
    if column.given:
        what = f"{column.role} column '{name}' ({column.setting}={column.given}) is not in '{rows.source}'"
    else:
        what = f"'{rows.source}' has no column '{name}', the {column.role} column the model was trained with"
    naming = f"{column.setting}=COLUMN names the input's {column.role} column"
    if column.order:
        naming = f"{column.setting}=A,B names the input's {column.role} columns, in the model's order ({column.order})"
    close = did_you_mean(name, map(str, frame.columns))
    raise DataError(what, expected=f"a column called '{name}' in any case",
                    got="columns " + ", ".join(map(str, frame.columns)),
                    hint=f"{close} ({naming})" if close.startswith("did you mean") else naming)


# ----------------------------------------------------------------------------------------- values


# -------------------------------------------------------------------------------------- frequency


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
    frame, rows = read_source(source, "a CSV, TSV or Parquet file of time series")
    return series_table(frame, rows, time=time, target=target, covariates=covariates, series_id=series_id,
                        fill=fill, min_length=min_length)


def series_table(frame: pd.DataFrame, rows: Rows, *, time: str | None, target: str | None,
                 covariates: list[str], series_id: str | None, fill: str, min_length: int = 1) -> SeriesTable:
    """:func:`load_series` on a table already read (``rows`` numbers its rows as the user sees them)."""
    if fill not in FILLS:
        raise DataError(f"unknown fill '{fill}'", expected="one of " + ", ".join(FILLS), got=fill,
                        hint=did_you_mean(fill, FILLS))
    numbers = np.arange(len(frame)) + rows.first
    blank = blank_rows(frame)
    frame, numbers = frame[~blank].reset_index(drop=True), numbers[~blank]
    if frame.empty:
        raise DataError(f"'{rows.source}' has no data rows", expected="at least one row of values",
                        got="only empty lines", hint="check that the file was written completely")

    time_column = require_column(frame, time, "time", rows) if time else find_time_column(frame, rows)
    series_column = require_column(frame, series_id, "series", rows) if series_id else None
    covariate_columns = [require_column(frame, name, "covariate", rows) for name in covariates]
    taken = {time_column, *covariate_columns} | ({series_column} if series_column else set())
    target_column = require_column(frame, target, "target", rows) if target else find_target_column(frame, taken, rows)
    if target_column in taken:
        raise DataError(f"column '{target_column}' of '{rows.source}' is used twice",
                        expected="different time, target, series and covariate columns",
                        got=f"'{target_column}' as the target and as the time, series or a covariate",
                        hint="name each column once")

    times = parse_times(frame[time_column], time_column, rows, numbers)
    value_columns = [target_column, *covariate_columns]
    values = np.column_stack([numeric_values(frame[c], c, rows, numbers) for c in value_columns])
    ids = series_ids(frame[series_column], series_column, rows, numbers) if series_column else np.full(len(frame), "")

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


def _sorted(name: str, where: np.ndarray, times: pd.Index, rows: Rows, numbers: np.ndarray,
            notes: list[str]) -> np.ndarray:
    """``where`` in time order (stable); rows out of order are noted, duplicate times are errors."""
    keys = time_keys(times[where])
    late = int(np.sum(keys[1:] < np.maximum.accumulate(keys)[:-1])) if len(keys) > 1 else 0
    order = np.argsort(keys, kind="stable")
    if late:
        notes.append(f"sorted {counted(late, 'row')}{_in(name)} that {'were' if late > 1 else 'was'} out of order")
    where, keys = where[order], keys[order]
    same = np.flatnonzero(keys[1:] == keys[:-1])
    if same.size:
        shown = []
        for key in np.unique(keys[same]):
            lines = numbers[where[keys == key]]
            shown.append(f"{moment_text(times[where[keys == key][0]])} on {rows.name(sorted(lines))}")
        hint = "remove or aggregate the duplicate rows"
        if not name:
            hint += ", or name the column that tells series apart with series_id=COLUMN"
        raise DataError(f"duplicate timestamps{_in(name)} in '{rows.source}'",
                        expected="one row per time" + (" and series" if name else ""), got=listing(shown), hint=hint)
    return where


def _shared_frequency(times: dict[str, pd.Index], rows: Rows, notes: list[str]) -> str | int:
    """The one frequency of all series (an error when they differ or are irregular)."""
    found = {name: infer_frequency(t) for name, t in times.items()}
    known = {name: f for name, f in found.items() if f is not None}
    bad = [_called(n) for n, t in times.items() if len(t) >= 2 and found[n] is None]
    if bad:
        raise DataError(f"cannot work out a regular frequency for {listing(bad)} in '{rows.source}'",
                        expected="timestamps at a regular step (hourly, daily, weekly, month starts or ends, ...)",
                        got="irregular timestamps", hint="resample the data to a regular frequency")
    distinct = sorted({str(f) for f in known.values()})
    if len(distinct) > 1:
        shown = [f"{_called(n)}: {f}" for n, f in known.items()]
        raise DataError(f"the series of '{rows.source}' have different frequencies",
                        expected="one frequency for all series", got=listing(shown),
                        hint="resample them to one frequency, or train on them separately")
    if known:
        return next(iter(known.values()))
    sample = next(iter(times.values()))
    if isinstance(sample, pd.DatetimeIndex):
        notes.append("every series has a single timestamp, so the frequency is unknown; assumed daily")
        return "D"
    return 1


def _regular(name: str, time: pd.Index, values: np.ndarray, numbers: np.ndarray, frequency: str | int,
             columns: list[str], fill: str, rows: Rows, notes: list[str]) -> Series:
    """One series on its full grid: off-grid times are errors, gaps and empty cells are filled."""
    grid = regular_grid(time, frequency)
    grid_name = f"step-{frequency}" if isinstance(frequency, int) else frequency
    position = grid.get_indexer(time)
    off = position < 0
    if off.any():
        shown = [f"{moment_text(time[i])} on {rows.unit} {numbers[i]}" for i in np.flatnonzero(off)]
        raise DataError(f"timestamps{_in(name)} in '{rows.source}' are off the {grid_name} grid",
                        expected=f"a time at every {step_text(frequency)} from {moment_text(time[0])}",
                        got=listing(shown), hint="fix or delete those rows, or resample the data")
    full = np.full((len(grid), values.shape[1]), np.nan)
    full[position] = values
    origin = np.full(len(grid), -1)
    origin[position] = numbers
    inserted = origin < 0
    missing = np.isnan(full)
    if fill == "none" and missing.any():
        problems = []
        if inserted.any():
            problems.append("missing timestamps " + listing([moment_text(t) for t in grid[inserted]]))
        cells = missing.any(axis=1) & ~inserted
        if cells.any():
            problems.append(f"empty cells on {rows.name(origin[cells])}")
        raise DataError(f"{_called(name)} in '{rows.source}' has gaps",
                        expected=f"a value at every {step_text(frequency)}", got="; ".join(problems),
                        hint="fill=interpolate or fill=ffill fills them")
    if inserted.any():
        notes.append(f"inserted {counted(int(inserted.sum()), 'missing timestamp')}{_in(name)} "
                     f"({listing([moment_text(t) for t in grid[inserted]])})")
    for j, column in enumerate(columns):
        gaps = missing[:, j]
        if gaps.all():
            raise DataError(f"column '{column}'{_in(name)} in '{rows.source}' has no values",
                            expected="at least one number", got="only empty cells", hint="fill in the column")
        if gaps.any():
            full[:, j], how = _filled(full[:, j], gaps, fill)
            notes.append(f"filled {counted(int(gaps.sum()), 'missing value')} in {column}{_in(name)} by {how} "
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
        how += f", {counted(leading, 'leading value')} back-filled from the first observed"
    return filled, how


def _where(origin: np.ndarray, rows: Rows) -> str:
    lines = origin[origin >= 0]
    inserted = int(np.sum(origin < 0))
    parts = [rows.name(lines)] if lines.size else []
    if inserted:
        parts.append(counted(inserted, "inserted timestamp"))
    return " and ".join(parts)


