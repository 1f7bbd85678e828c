"""Resolving the columns of a table of series: time, target, series ids, numeric values."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from torchworks.errors import DataError
from torchworks.tables import Rows, as_text, find_column, listing

TIME_NAMES = ("date", "time", "timestamp", "datetime", "ds", "year", "period")


def find_time_column(frame: pd.DataFrame, rows: Rows) -> str:
    found = find_column(frame, TIME_NAMES)
    if found is not None:
        return found
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
