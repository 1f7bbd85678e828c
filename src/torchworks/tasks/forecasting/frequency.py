"""Time values and the calendar: parsing the time column, inferring the frequency, the regular
grid, the timestamps after the last one, and the usual season length of a frequency.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pandas.tseries.frequencies import to_offset

from torchworks.errors import DataError
from torchworks.tables import Rows, as_text, listing


def parse_times(column: pd.Series, name: str, rows: Rows, numbers: np.ndarray) -> pd.Index:
    """Integer steps (whole numbers, even when stored as floats) or timestamps."""
    if ptypes.is_datetime64_any_dtype(column):
        stamps = pd.DatetimeIndex(column)
        _no_missing_times(np.asarray(stamps.isna()), name, rows, numbers)
        return stamps
    if ptypes.is_numeric_dtype(column) and not ptypes.is_bool_dtype(column):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        _no_missing_times(np.isnan(values), name, rows, numbers)
        return _steps(values, name, rows, numbers)
    text, missing = as_text(column)
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
                        got=listing(shown), hint="fix those cells, or name another column with time=COLUMN")
    return pd.DatetimeIndex(stamps)


def _steps(values: np.ndarray, name: str, rows: Rows, numbers: np.ndarray) -> pd.Index:
    fractional = values != np.floor(values)
    if fractional.any():
        shown = [f"{values[i]:g} on {rows.unit} {numbers[i]}" for i in np.flatnonzero(fractional)]
        raise DataError(f"time column '{name}' of '{rows.source}' has steps off the integer grid",
                        expected="whole-number steps (e.g. years 1700, 1701, ...) or dates", got=listing(shown),
                        hint="fix those rows or delete them")
    return pd.Index(values.astype("int64"))


def _no_missing_times(missing: np.ndarray, name: str, rows: Rows, numbers: np.ndarray) -> None:
    if missing.any():
        raise DataError(f"time column '{name}' of '{rows.source}' has empty cells",
                        expected="a time on every row", got=f"empty on {rows.name(numbers[missing])}",
                        hint="fill in those times or delete those rows")


@lru_cache(maxsize=None)
def _alias(modern: str, legacy: str) -> str:
    """The offset alias this pandas understands (pandas 2.2 renamed M/A/Q/H to ME/YE/QE/h)."""
    try:
        to_offset(modern)
        return modern
    except ValueError:
        return legacy


def time_keys(time: pd.Index) -> np.ndarray:
    return time.asi8 if isinstance(time, pd.DatetimeIndex) else np.asarray(time, dtype="int64")


def infer_frequency(time: pd.Index) -> str | int | None:
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


def regular_grid(time: pd.Index, frequency: str | int) -> pd.Index:
    if isinstance(frequency, int):
        return pd.Index(np.arange(time[0], time[-1] + 1, frequency, dtype="int64"))
    return pd.date_range(time[0], time[-1], freq=frequency)


def step_text(frequency: str | int) -> str:
    return f"step of {frequency}" if isinstance(frequency, int) else f"{frequency} step"


def moment_text(moment: object) -> str:
    if isinstance(moment, pd.Timestamp):
        text = moment.isoformat()
        return text[:10] if text.endswith("T00:00:00") else text
    return str(moment)


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
