"""Reading interactions: a table of events (CSV, TSV, Parquet, JSON lines or a DataFrame) or a MovieLens
folder, checked once, into :class:`~torchworks.tasks.recommendation.interactions.Interactions`.

Columns are found by their usual names (``user_id``, ``movieId``, ``rating``, ``timestamp``...) unless
named. Every problem names the file and the lines concerned; nothing is silently coerced or dropped
except blank rows and, by the ``duplicates`` policy, repeated (user, item, time) events.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from torchworks.errors import ConfigError, DataError, did_you_mean
from torchworks.tables import Rows, as_text, blank_rows, counted, find_column, listing, read_source, require_column
from torchworks.tasks.recommendation.catalogue import ITEM_NAMES, complete_items, read_catalogue, text_ids
from torchworks.tasks.recommendation.interactions import ITEM, LINE, RATING, TIME, USER, WEIGHT, Interactions
from torchworks.tasks.recommendation.movielens import read_movielens
from torchworks.uploads import Upload

USER_NAMES = ("user", "user_id", "userid", "customer_id", "customer", "visitor_id", "member_id", "account_id",
              "session_id")
RATING_NAMES = ("rating", "ratings", "score", "stars")
WEIGHT_NAMES = ("weight", "count", "quantity", "qty", "plays", "clicks", "views")
TIME_NAMES = ("timestamp", "time", "ts", "datetime", "date", "event_time", "created_at")
ROLE_NAMES = {USER: USER_NAMES, ITEM: ITEM_NAMES, RATING: RATING_NAMES, WEIGHT: WEIGHT_NAMES, TIME: TIME_NAMES}
DUPLICATE_POLICIES = ("last", "first", "fail")
TABLE = "a table of interactions (CSV, TSV, Parquet or JSON lines)"
_LARGEST_SECONDS = 1e11  # about the year 5100: larger numbers are not seconds (milliseconds, most likely)

Source = str | Path | pd.DataFrame | Upload


def read_interactions(source: Source, *, user: str | None = None, item: str | None = None,
                      rating: str | None = None, weight: str | None = None, time: str | None = None,
                      rating_scale: tuple[float, float] | None = None,
                      duplicates: Literal["last", "first", "fail"] = "last",
                      item_features: Source | None = None) -> Interactions:
    """Read and check interactions.

    Args:
        source: A CSV, TSV, Parquet or JSON-lines file, a DataFrame, an upload, or a MovieLens folder
            (ml-100k, ml-1m, ml-10m, ml-latest, ml-25m layouts).
        user, item, rating, weight, time: The column of each role; found by name when None. A table needs
            user and item; rating, weight (a count or strength, > 0) and time are optional.
        rating_scale: ``(low, high)`` every rating must lie in; a MovieLens folder has its own.
        duplicates: What to do with repeated (user, item, time) events: keep the ``last`` or ``first`` in
            file order (counted in ``notes``), or ``fail``. Without a time column nothing is a duplicate:
            a user may consume an item again.
        item_features: A table of items (see :func:`~torchworks.tasks.recommendation.catalogue.read_catalogue`)
            for ``items``; for a MovieLens folder it replaces the folder's movie list.

    Returns:
        The interactions sorted by time then line, with the catalogue of every item.

    Raises:
        DataError: The data is missing, malformed or too small (naming the file and lines).
        ConfigError: ``rating_scale`` or ``duplicates`` is not valid, or columns are named for a folder.
    """
    check_options(rating_scale, duplicates)
    given = {USER: user, ITEM: item, RATING: rating, WEIGHT: weight, TIME: time}
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        return _read_folder(source, given, rating_scale, duplicates, item_features)
    raw, rows = read_source(source, TABLE)
    columns = find_roles(raw, rows, given)
    catalogue = None if item_features is None else read_catalogue(item_features, prefer=columns[ITEM])
    return interactions_from_table(raw, rows, columns, source=rows.source, rating_scale=rating_scale,
                                   duplicates=duplicates, catalogue=catalogue, notes={"layout": "table"})


def _read_folder(folder: str | Path, given: dict[str, str | None], rating_scale: tuple[float, float] | None,
                 duplicates: str, item_features: Source | None) -> Interactions:
    """A MovieLens folder's ratings, checked like a table's; a declared scale replaces the layout's."""
    named = [f"{role}={value}" for role, value in given.items() if value]
    if named:
        raise ConfigError(f"columns named for the folder '{folder}'", expected="no column names: a MovieLens "
                          "folder's columns are fixed", got=", ".join(named),
                          hint="name the file of interactions instead of its folder to choose its columns")
    found = read_movielens(folder)
    catalogue = found.catalogue if item_features is None else read_catalogue(item_features)
    return interactions_from_table(found.raw, found.rows, found.columns, source=str(folder),
                                   rating_scale=rating_scale or found.rating_scale, duplicates=duplicates,
                                   catalogue=catalogue, notes={"layout": found.layout})


def check_options(rating_scale: tuple[float, float] | None, duplicates: str) -> None:
    """Refuse a rating scale that is not two finite numbers low < high, and an unknown duplicates policy.

    Raises:
        ConfigError: Either is not valid.
    """
    if duplicates not in DUPLICATE_POLICIES:
        raise ConfigError(f"unknown duplicates policy '{duplicates}'", expected=" or ".join(DUPLICATE_POLICIES),
                          got=repr(duplicates), hint=did_you_mean(str(duplicates), DUPLICATE_POLICIES))
    if rating_scale is None:
        return
    try:
        low, high = (float(value) for value in rating_scale)
    except (TypeError, ValueError):
        low = high = float("nan")
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ConfigError("rating_scale is not a range", expected="(low, high), two numbers with low < high",
                          got=repr(rating_scale), hint="for example rating_scale=[1, 5]")


def find_roles(raw: pd.DataFrame, rows: Rows, given: dict[str, str | None]) -> dict[str, str]:
    """Role (``user``, ``item``, ``rating``, ``weight``, ``time``) -> the column of ``raw`` that holds it.

    Args:
        raw: The table as read.
        rows: How it numbers its rows (its name is used in messages).
        given: The column named for each role, or None to find it by name.

    Raises:
        DataError: A named column is absent, or no user or item column is found.
        ConfigError: One column is named for two roles.
    """
    columns: dict[str, str] = {}
    for role, names in ROLE_NAMES.items():
        name = given.get(role)
        if name:
            found = find_column(raw, [name.lower()]) or require_column(raw, name, role, rows)
        else:
            found = find_column(raw, [n for n in names if n not in {c.lower() for c in columns.values()}])
        if found is not None:
            columns[role] = str(found)
    missing = [role for role in (USER, ITEM) if role not in columns]
    if missing:
        raise DataError(f"no {' or '.join(missing)} column in '{rows.source}'",
                        expected=" and ".join(f"a {role} column (named like {', '.join(ROLE_NAMES[role][:4])}...)"
                                              for role in missing),
                        got="columns " + listing([str(c) for c in raw.columns], 20),
                        hint="name them: " + " ".join(f"{role}=COLUMN" for role in missing))
    shared = [name for name in set(columns.values()) if list(columns.values()).count(name) > 1]
    if shared:
        roles = [role for role, name in columns.items() if name == shared[0]]
        raise ConfigError(f"column '{shared[0]}' is named for two roles", expected="one column per role",
                          got=" and ".join(f"{role}={shared[0]}" for role in roles), hint="name a column for each")
    return columns


def interactions_from_table(raw: pd.DataFrame, rows: Rows, columns: dict[str, str], *, source: str,
                            rating_scale: tuple[float, float] | None, duplicates: str,
                            catalogue: pd.DataFrame | None, notes: dict[str, object]) -> Interactions:
    """Check a raw table whose roles are known and turn it into :class:`Interactions`.

    Args:
        raw: The cells as read; row ``i`` is ``rows.first + i`` in the source.
        rows: How the source numbers its rows; messages name its file and lines.
        columns: Role -> column of ``raw`` (user and item at least).
        source: The file or folder the user named.
        rating_scale: ``(low, high)`` for the ratings, or None.
        duplicates: ``last``, ``first`` or ``fail``.
        catalogue: The items' features, or None (items then get their id as title).
        notes: Facts for the report; ``duplicates dropped`` is added.
    """
    numbers = rows.first + np.arange(len(raw), dtype="int64")
    keep = ~blank_rows(raw)
    raw, numbers = raw.loc[keep].reset_index(drop=True), numbers[keep]
    if raw.empty:
        raise DataError(f"'{rows.source}' has no data rows", expected="at least one interaction",
                        got="only blank rows", hint="check that the file was written completely")
    if rating_scale is not None and RATING not in columns:
        raise DataError(f"a rating scale was given but '{rows.source}' has no rating column",
                        expected="a column named like " + ", ".join(RATING_NAMES), got="columns " +
                        listing([str(c) for c in raw.columns], 20), hint="name it: rating=COLUMN")
    n = len(raw)
    frame = pd.DataFrame({
        USER: text_ids(raw[columns[USER]], USER, columns[USER], rows, numbers),
        ITEM: text_ids(raw[columns[ITEM]], ITEM, columns[ITEM], rows, numbers),
        RATING: _ratings(raw, columns, rows, numbers) if RATING in columns else np.full(n, np.nan),
        WEIGHT: _weights(raw, columns, rows, numbers) if WEIGHT in columns else np.ones(n),
        TIME: _times(raw[columns[TIME]], columns[TIME], rows, numbers) if TIME in columns else np.arange(n),
        LINE: numbers,
    })
    frame[TIME] = frame[TIME].astype("int64")
    if rating_scale is not None:
        _check_scale(frame, (float(rating_scale[0]), float(rating_scale[1])), rows)
    dropped = 0
    if TIME in columns:
        frame, dropped = _drop_duplicates(frame, duplicates, rows)
    _require_variety(frame, rows)
    frame = frame.sort_values([TIME, LINE], kind="stable").reset_index(drop=True)
    items = complete_items(catalogue, frame[ITEM])
    notes = {**notes, "duplicates dropped": dropped}
    if catalogue is not None:
        notes["items without features"] = int((~frame[ITEM].drop_duplicates().isin(catalogue.index)).sum())
    scale = None if rating_scale is None else (float(rating_scale[0]), float(rating_scale[1]))
    return Interactions(frame=frame, source=str(source), rows=rows, has_ratings=RATING in columns,
                        has_times=TIME in columns, rating_scale=scale, items=items, columns=dict(columns), notes=notes)


def _cells_error(what: str, cells: list[str], expected: str, hint: str) -> DataError:
    return DataError(what, expected=expected, got=listing(cells), hint=hint)


def _numbers(column: pd.Series, role: str, name: str, rows: Rows, numbers: np.ndarray) -> np.ndarray:
    """Numeric cells as float64; empty cells and text that is not a number are errors naming the lines."""
    if ptypes.is_numeric_dtype(column) and not ptypes.is_bool_dtype(column):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        missing, text = np.isnan(values), None
    else:
        text, missing = as_text(column)
        values = pd.to_numeric(np.asarray(text, dtype=object), errors="coerce").astype("float64")
    if missing.any():
        raise DataError(f"{role} column '{name}' of '{rows.source}' has empty cells", expected=f"a {role} on every "
                        "row", got=f"nothing on {rows.name(numbers[missing])}",
                        hint="fill them in or delete those rows")
    bad = np.isnan(values)
    if bad.any() and text is not None:
        shown = [f"'{text.iloc[i]}' on {rows.unit} {numbers[i]}" for i in np.flatnonzero(bad)]
        raise _cells_error(f"{role} column '{name}' of '{rows.source}' has text that is not a number", shown,
                           expected=f"a number for each {role}", hint="fix those cells or delete those rows")
    infinite = np.isinf(values)
    if infinite.any():
        raise DataError(f"{role} column '{name}' of '{rows.source}' has infinite values", expected="finite numbers",
                        got=f"infinity on {rows.name(numbers[infinite])}", hint="fix those cells or delete those rows")
    return values


def _ratings(raw: pd.DataFrame, columns: dict[str, str], rows: Rows, numbers: np.ndarray) -> np.ndarray:
    return _numbers(raw[columns[RATING]], RATING, columns[RATING], rows, numbers)


def _weights(raw: pd.DataFrame, columns: dict[str, str], rows: Rows, numbers: np.ndarray) -> np.ndarray:
    values = _numbers(raw[columns[WEIGHT]], WEIGHT, columns[WEIGHT], rows, numbers)
    bad = values <= 0
    if bad.any():
        shown = [f"{values[i]:g} on {rows.unit} {numbers[i]}" for i in np.flatnonzero(bad)]
        raise _cells_error(f"weight column '{columns[WEIGHT]}' of '{rows.source}' has values that are not "
                           "positive", shown, expected="weights (counts, plays, quantities) above 0",
                           hint="delete the rows of zero weight: they are not interactions")
    return values


def _times(column: pd.Series, name: str, rows: Rows, numbers: np.ndarray) -> np.ndarray:
    """Seconds since the epoch (int64): numbers as they are (truncated), dates and datetimes parsed as UTC."""
    if ptypes.is_datetime64_any_dtype(column):
        stamps = pd.to_datetime(column, utc=True)
        missing = stamps.isna().to_numpy()
        if missing.any():
            raise DataError(f"time column '{name}' of '{rows.source}' has empty cells", expected="a time on every "
                            "row", got=f"nothing on {rows.name(numbers[missing])}", hint="fill them in")
        return _seconds(stamps)
    text, missing = as_text(column)
    numeric = ptypes.is_numeric_dtype(column) and not ptypes.is_bool_dtype(column)
    values = pd.to_numeric(np.asarray(text, dtype=object), errors="coerce").astype("float64")
    if numeric or np.isfinite(values[~missing]).all():
        values = _numbers(column, TIME, name, rows, numbers)
        large = np.abs(values) >= _LARGEST_SECONDS
        if large.any():
            shown = [f"{values[i]:.0f} on {rows.unit} {numbers[i]}" for i in np.flatnonzero(large)]
            raise _cells_error(f"time column '{name}' of '{rows.source}' has numbers too large to be seconds since "
                               "1970", shown, expected="unix seconds (e.g. 874724710)",
                               hint="if they are milliseconds, divide them by 1000")
        return np.trunc(values).astype("int64")
    if missing.any():
        raise DataError(f"time column '{name}' of '{rows.source}' has empty cells", expected="a time on every row",
                        got=f"nothing on {rows.name(numbers[missing])}", hint="fill them in or delete those rows")
    return _seconds(_parse_dates(text, name, rows, numbers))


def _parse_dates(text: pd.Series, name: str, rows: Rows, numbers: np.ndarray) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        stamps = pd.to_datetime(text, errors="coerce", utc=True)  # fast: one format, inferred
        failed = stamps.isna().to_numpy()
        if failed.any():  # formats vary from cell to cell: each on its own
            stamps[failed] = pd.to_datetime(text[failed], errors="coerce", utc=True, format="mixed")
    bad = stamps.isna().to_numpy()
    if bad.any():
        shown = [f"'{text.iloc[i]}' on {rows.unit} {numbers[i]}" for i in np.flatnonzero(bad)]
        raise _cells_error(f"time column '{name}' of '{rows.source}' has values that are not dates or times", shown,
                           expected="dates, datetimes (e.g. 2024-01-31 18:02) or unix seconds",
                           hint="fix those cells, or name another column with time=COLUMN")
    return stamps


def _seconds(stamps: pd.Series) -> np.ndarray:
    return ((stamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(dtype="int64")


def _check_scale(frame: pd.DataFrame, scale: tuple[float, float], rows: Rows) -> None:
    low, high = scale
    values, lines = frame[RATING].to_numpy(), frame[LINE].to_numpy()
    outside = (values < low) | (values > high)
    if not outside.any():
        return
    where = np.flatnonzero(outside)
    if len(where) == 1:
        i = where[0]
        what = f"a rating of {values[i]:g} on {rows.unit} {lines[i]} is outside the scale {low:g}-{high:g}"
    else:
        what = f"{counted(len(where), 'rating')} are outside the scale {low:g}-{high:g}"
    shown = [f"{values[i]:g} on {rows.unit} {lines[i]}" for i in where]
    raise _cells_error(f"in '{rows.source}', {what}", shown, expected=f"ratings from {low:g} to {high:g}",
                       hint="fix those ratings, or declare the scale they use with rating_scale=[LOW, HIGH]")


def _drop_duplicates(frame: pd.DataFrame, policy: str, rows: Rows) -> tuple[pd.DataFrame, int]:
    """Repeated (user, item, time) events: keep the last or first in file order, or refuse them."""
    key = [USER, ITEM, TIME]
    if policy == "fail":
        repeated = frame.duplicated(key, keep=False).to_numpy()
        if repeated.any():
            lines = frame[LINE].to_numpy()[repeated]
            raise DataError(f"{counted(int(repeated.sum()), rows.unit)} of '{rows.source}' repeat the same user, item "
                            "and time", expected="each (user, item, time) once", got=f"repeats on {rows.name(lines)}",
                            hint="delete the repeats, or keep one of each with duplicates=last or duplicates=first")
        return frame, 0
    dropped = frame.duplicated(key, keep=policy).to_numpy()
    return frame.loc[~dropped].reset_index(drop=True), int(dropped.sum())


def _require_variety(frame: pd.DataFrame, rows: Rows) -> None:
    """Something to recommend and someone to recommend it to: at least two items and two users."""
    for role, noun in ((ITEM, "item"), (USER, "user")):
        distinct = frame[role].unique()
        if len(distinct) < 2:
            raise DataError(f"'{rows.source}' names a single {noun} ('{distinct[0]}')",
                            expected=f"interactions with at least 2 distinct {noun}s",
                            got=f"{counted(len(frame), 'interaction')}, all of {noun} '{distinct[0]}'",
                            hint=("with one item there is nothing to recommend" if role == ITEM else
                                  "with one user there are no shared tastes to learn from")
                            + f": check that {role}= names the {noun} column")
