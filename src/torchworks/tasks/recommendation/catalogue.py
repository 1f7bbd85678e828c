"""The item catalogue: one row per item id with its title, its genres and any further features.

A catalogue comes from an item-features table (``item_features=items.csv``) or from a MovieLens
folder's movie list; items that interactions name but the catalogue does not get their id as title
and no genres, and items only the catalogue lists stay in it (they can be recommended cold).

Item ids are text everywhere (``"42"``, never ``42``) so that ids read from a CSV, a Parquet file
and a MovieLens folder compare equal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from torchworks.errors import DataError
from torchworks.tables import Rows, as_text, blank_rows, counted, find_column, listing, read_source, require_column
from torchworks.uploads import Upload

# the names an item id column goes by (any case), most specific first
ITEM_NAMES = ("item", "item_id", "itemid", "movieid", "movie_id", "product_id", "product", "sku", "article_id",
              "track_id", "song_id", "book_id", "asin")
TITLE_NAMES = ("title", "name", "product_name")
GENRE_NAMES = ("genres", "genre", "category", "categories", "tags")
TITLE, GENRES = "title", "genres"
NO_GENRES = frozenset({"(no genres listed)", "unknown"})  # MovieLens's words for "none"
_GENRE_SEPARATORS = re.compile(r"[|,;]")
_TABLE = "a table of items (CSV, TSV, Parquet or JSON lines) with an item id column"


def read_catalogue(source: str | Path | pd.DataFrame | Upload, item_column: str | None = None, *,
                   prefer: str | None = None) -> pd.DataFrame:
    """Read an item-features table into the catalogue.

    Args:
        source: A CSV, TSV, Parquet or JSON-lines file, a DataFrame or an upload.
        item_column: The column of item ids; found by name (``item_id``, ``movieId``, ``sku``, ``id``...)
            when None.
        prefer: A name to look for first when ``item_column`` is None (the interactions' item column).

    Returns:
        A frame indexed by item id (str, index name ``item``): ``title`` (str; the id when the table has
        no title), ``genres`` (a list of str per item, from ``genres``/``category``/``tags`` cells split on
        ``|``, ``,`` or ``;``) and every other column, numbers as float64 and the rest as str.

    Raises:
        DataError: No item column, empty item cells, or an item listed twice (naming the lines).
    """
    raw, rows = read_source(source, _TABLE)
    if item_column:
        column = find_column(raw, [item_column.lower()]) or require_column(raw, item_column, "item", rows)
    else:
        column = find_column(raw, [name.lower() for name in ([prefer] if prefer else [])] + [*ITEM_NAMES, "id"])
    if column is None:
        raise DataError(f"no item id column in '{rows.source}'", expected="a column named like item_id, movieId, "
                        "sku or id" + (f", or '{prefer}' as in the interactions" if prefer else ""),
                        got="columns " + listing([str(c) for c in raw.columns], 20),
                        hint="rename its item id column to item_id")
    return catalogue_from_table(raw, rows, column)


def catalogue_from_table(raw: pd.DataFrame, rows: Rows, item_column: str) -> pd.DataFrame:
    """The catalogue of a raw table (cells as read) whose rows ``rows`` numbers; see :func:`read_catalogue`."""
    numbers = rows.first + np.arange(len(raw))
    keep = ~blank_rows(raw)
    raw, numbers = raw.loc[keep].reset_index(drop=True), numbers[keep]
    if raw.empty:
        raise DataError(f"'{rows.source}' lists no items", expected="a row per item", got="only blank rows",
                        hint="check that the file was written completely")
    ids = text_ids(raw[item_column], "item", item_column, rows, numbers)
    _refuse_repeated_ids(ids, rows, numbers)
    title_column = find_column(raw.drop(columns=[item_column]), TITLE_NAMES)
    genre_column = find_column(raw.drop(columns=[item_column]), GENRE_NAMES)
    titles = ids.copy()
    if title_column is not None:
        text, missing = as_text(raw[title_column])
        titles = text.where(~missing, ids)
    genres = [[] for _ in range(len(raw))] if genre_column is None else [split_genres(v) for v in raw[genre_column]]
    catalogue = pd.DataFrame({TITLE: titles.astype(str).to_numpy(), GENRES: pd.Series(genres, dtype=object)})
    for name in raw.columns:
        if name not in (item_column, title_column, genre_column) and name not in (TITLE, GENRES):
            catalogue[str(name)] = feature_values(raw[name]).to_numpy()
    catalogue.index = pd.Index(ids.to_numpy(), dtype=str, name="item")
    return catalogue


def text_ids(column: pd.Series, role: str, name: str, rows: Rows, numbers: np.ndarray) -> pd.Series:
    """Ids as stripped text (whole floats such as ``3.0`` written ``3``); empty cells are an error.

    Args:
        column: The cells as read.
        role: ``user`` or ``item``, for messages.
        name: The column's name in the source.
        rows: How the source numbers its rows.
        numbers: The row number of each cell.

    Raises:
        DataError: Some cells are empty, naming their lines (or saying the whole column is empty).
    """
    if ptypes.is_float_dtype(column):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        known = values[~np.isnan(values)]
        if np.all(np.isfinite(known) & (known == np.round(known))):
            column = pd.Series(pd.array(values, dtype="Int64"))  # ids a Parquet file stored as floats
    text, missing = as_text(column)
    if missing.all():
        raise DataError(f"{role} column '{name}' of '{rows.source}' is empty", expected=f"a {role} id on every row",
                        got=f"no value in any of its {counted(len(column), rows.unit)}",
                        hint=f"check that {role}= names the right column")
    if missing.any():
        count = int(missing.sum())
        raise DataError(f"{counted(count, rows.unit)} of '{rows.source}' {'has' if count == 1 else 'have'} no {role}",
                        expected=f"a {role} id in column '{name}' on every row",
                        got=f"empty cells on {rows.name(numbers[missing])}", hint="fill them in or delete those rows")
    return text.astype(str).reset_index(drop=True)


def _refuse_repeated_ids(ids: pd.Series, rows: Rows, numbers: np.ndarray) -> None:
    repeated = ids.duplicated(keep=False).to_numpy()
    if not repeated.any():
        return
    groups = pd.Series(numbers[repeated]).groupby(ids[repeated].to_numpy(), sort=False).agg(list)
    shown = [f"'{item}' on {rows.name(lines)}" for item, lines in groups.items()]
    raise DataError(f"{counted(len(groups), 'item')} of '{rows.source}' {'is' if len(groups) == 1 else 'are'} "
                    "listed more than once", expected="one row per item id", got=listing(shown),
                    hint="merge those rows or delete the extra ones")


def split_genres(cell: object) -> list[str]:
    """``"Action|Comedy"`` (or ``,`` / ``;``, or a list) -> ``["Action", "Comedy"]``; "(no genres listed)" -> []."""
    if isinstance(cell, (list, tuple, np.ndarray)):
        parts = [str(part) for part in cell]
    elif cell is None or (isinstance(cell, float) and np.isnan(cell)):
        return []
    else:
        parts = _GENRE_SEPARATORS.split(str(cell))
    genres = [part.strip() for part in parts]
    return [genre for genre in dict.fromkeys(genres) if genre and genre.lower() not in NO_GENRES]


def feature_values(column: pd.Series) -> pd.Series:
    """A feature column: float64 when every non-empty cell is a number (empty -> NaN), else str ("" when empty)."""
    if ptypes.is_numeric_dtype(column):
        return pd.Series(column.to_numpy(dtype="float64", na_value=np.nan))
    text, missing = as_text(column)
    values = pd.to_numeric(np.asarray(text, dtype=object), errors="coerce").astype("float64")
    if (~missing).any() and not np.isnan(values[~missing]).any():
        return pd.Series(np.where(missing, np.nan, values))
    return text.where(~missing, "").astype(str).reset_index(drop=True)


def complete_items(catalogue: pd.DataFrame | None, item_ids: Sequence[str] | pd.Series) -> pd.DataFrame:
    """The catalogue with a row for every id in ``item_ids`` it lacks (title = id, no genres, empty features).

    Args:
        catalogue: A catalogue from :func:`read_catalogue`, or None for none.
        item_ids: The item ids the interactions name; the added rows follow the order of first appearance.
    """
    if catalogue is None:
        catalogue = pd.DataFrame({TITLE: pd.Series([], dtype=str), GENRES: pd.Series([], dtype=object)},
                                 index=pd.Index([], dtype=str, name="item"))
    ids = pd.unique(pd.Series(item_ids, dtype=str))
    missing = ids[~pd.Index(ids).isin(catalogue.index)]
    if len(missing) == 0:
        return catalogue
    extra = pd.DataFrame({TITLE: pd.Series(missing, dtype=str), GENRES: pd.Series([[] for _ in missing], dtype=object)})
    for name in catalogue.columns.drop([TITLE, GENRES]):
        kind = catalogue[name].dtype
        extra[name] = np.full(len(missing), np.nan) if ptypes.is_float_dtype(kind) else pd.Series([""] * len(missing),
                                                                                                   dtype=str)
    extra.index = pd.Index(missing, dtype=str, name="item")
    return pd.concat([catalogue, extra]) if len(catalogue) else extra
