"""MovieLens folders, in their three layouts: the ratings file's cells and roles, the layout's rating
scale and the movie list, which the reader of interactions then checks like any table.

- **ml-100k**: ``u.data`` (tab-separated, no header: user id, item id, rating, timestamp) and, when
  present, ``u.item`` (``|``-separated: id, title, release date, video release date, IMDb URL, then one
  0/1 flag per genre, named by ``u.genre`` when that file is there). Ratings 1-5.
- **ml-1m / ml-10m**: ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``) and, when present,
  ``movies.dat`` (``MovieID::Title::Genres``, genres ``|``-separated). ml-1m rates in whole stars and
  ml-10m in half stars, and nothing else in the files tells them apart: the scale is 0.5-5 (and the
  layout "MovieLens 10M") when any rating has a half star, else 1-5 ("MovieLens 1M").
- **ml-latest, ml-latest-small, ml-25m, ml-32m**: ``ratings.csv`` (userId,movieId,rating,timestamp) and
  ``movies.csv`` (movieId,title,genres); ``tags.csv`` and ``links.csv`` are not read. Ratings 0.5-5.

The older files are latin-1 (they predate UTF-8 in MovieLens); a file that is valid UTF-8 is read as
UTF-8. Messages name the file and its real line: ``u.data`` has no header, so its first line is line 1.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from torchworks.errors import DataError
from torchworks.tables import JSON_LINES, Rows, as_text, listing, read_source, require_column
from torchworks.tasks.recommendation.catalogue import catalogue_from_table, read_catalogue
from torchworks.tasks.recommendation.interactions import ITEM, RATING, TIME, USER

LAYOUT_100K, LAYOUT_1M, LAYOUT_10M = "MovieLens 100k", "MovieLens 1M", "MovieLens 10M"
LAYOUT_LATEST = "MovieLens latest"
WHOLE_STARS, HALF_STARS = (1.0, 5.0), (0.5, 5.0)
# the ratings files' fields (user, item, rating, time), as each layout's README names them
FIELDS_100K = ("user id", "item id", "rating", "timestamp")
FIELDS_DAT = ("UserID", "MovieID", "Rating", "Timestamp")
FIELDS_CSV = ("userId", "movieId", "rating", "timestamp")
# u.item's genre flags, in order, when the folder has no u.genre to name them
ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
                 "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
                 "War", "Western")
# the file that tells each layout, and what the folder error lists
LAYOUT_FILES = {"100k": "u.data", "dat": "ratings.dat", "csv": "ratings.csv"}
LAYOUTS_TEXT = ("a MovieLens folder: u.data (ml-100k), ratings.dat (ml-1m, ml-10m) or ratings.csv with movies.csv "
                "(ml-latest, ml-25m)")


def find_layout(folder: Path) -> str | None:
    """``"100k"``, ``"dat"`` or ``"csv"`` by the ratings file ``folder`` holds, or None."""
    for kind, name in LAYOUT_FILES.items():
        if (folder / name).is_file():
            return kind
    return None


@dataclass
class MovieLensRatings:
    """A MovieLens folder's ratings as read (text cells), before the checks every table of interactions gets."""

    raw: pd.DataFrame
    rows: Rows  # the ratings file's lines
    columns: dict[str, str]  # role (user, item, rating, time) -> field of raw
    rating_scale: tuple[float, float]
    layout: str  # "MovieLens 100k"...
    catalogue: pd.DataFrame | None  # the movie list, when the folder has one


def read_movielens(folder: str | Path) -> MovieLensRatings:
    """Read a MovieLens folder (or a folder holding exactly one, as an unpacked archive often does).

    Args:
        folder: The folder, as the user named it.

    Returns:
        The ratings file's cells, its roles, the layout's rating scale and the movie list; the reader of
        interactions checks them like any table's.

    Raises:
        DataError: The folder is in no MovieLens layout (saying which files make one), or a file in it is
            malformed (naming the file and line).
    """
    path = _layout_folder(Path(folder), str(folder))
    kind = find_layout(path)
    if kind == "100k":
        raw, rows = _read_delimited(path / "u.data", "\t", list(FIELDS_100K))
        scale, layout, fields = WHOLE_STARS, LAYOUT_100K, FIELDS_100K
        catalogue = _items_100k(path) if (path / "u.item").is_file() else None
    elif kind == "dat":
        raw, rows = _read_delimited(path / "ratings.dat", "::", list(FIELDS_DAT))
        half = _has_half_stars(raw[FIELDS_DAT[2]])
        scale, layout = (HALF_STARS, LAYOUT_10M) if half else (WHOLE_STARS, LAYOUT_1M)
        fields = FIELDS_DAT
        catalogue = _movies_dat(path) if (path / "movies.dat").is_file() else None
    else:
        raw, rows = read_source(path / "ratings.csv", "a MovieLens ratings.csv (userId,movieId,rating,timestamp)")
        fields = tuple(require_column(raw, name, name, rows) for name in FIELDS_CSV)
        scale, layout = HALF_STARS, LAYOUT_LATEST
        catalogue = read_catalogue(path / "movies.csv", "movieId") if (path / "movies.csv").is_file() else None
    roles = dict(zip((USER, ITEM, RATING, TIME), fields, strict=True))
    return MovieLensRatings(raw, rows, roles, scale, layout, catalogue)


def _layout_folder(folder: Path, name: str) -> Path:
    """``folder`` when it holds a layout, else its only subfolder that does; else the error saying what would."""
    if find_layout(folder) is not None:
        return folder
    inner = [child for child in sorted(folder.iterdir()) if child.is_dir() and find_layout(child) is not None]
    if len(inner) == 1:
        return inner[0]
    entries = sorted(child.name + ("/" if child.is_dir() else "") for child in folder.iterdir())
    tables = [entry for entry in entries if Path(entry).suffix.lower() in (".csv", ".tsv", ".parquet", *JSON_LINES)]
    example = f"{Path(name) / tables[0]}" if tables else f"{Path(name) / 'events.csv'}"
    raise DataError(f"'{name}' is a folder in no layout torchworks reads interactions from",
                    expected=f"{LAYOUTS_TEXT}, or the path of one table of interactions",
                    got="a folder holding " + (listing(entries, 8) if entries else "nothing"),
                    hint=f"name the file of interactions, for example {example}")


def _has_half_stars(column: pd.Series) -> bool:
    text, _ = as_text(column)
    values = pd.to_numeric(np.asarray(text, dtype=object), errors="coerce").astype("float64")
    return bool(np.any(np.mod(values[np.isfinite(values)], 1.0) == 0.5))


def _items_100k(folder: Path) -> pd.DataFrame:
    """u.item's id, title and genre flags as a catalogue (the "unknown" genre counts as none)."""
    genres = _genre_names(folder / "u.genre") if (folder / "u.genre").is_file() else list(ML100K_GENRES)
    fields = ["movie id", "movie title", "release date", "video release date", "IMDb URL", *genres]
    raw, rows = _read_delimited(folder / "u.item", "|", fields)
    flags = np.column_stack([as_text(raw[genre])[0].to_numpy() == "1" for genre in genres])
    names = np.array(genres, dtype=object)
    listed = ["|".join(names[row]) for row in flags]
    table = pd.DataFrame({"movie id": raw["movie id"], "title": raw["movie title"], "genres": listed})
    return catalogue_from_table(table, rows, "movie id")


def _genre_names(path: Path) -> list[str]:
    """u.genre's ``name|index`` lines, in index order."""
    raw, rows = _read_delimited(path, "|", ["genre", "index"])
    names, _ = as_text(raw["genre"])
    indexes = pd.to_numeric(np.asarray(as_text(raw["index"])[0], dtype=object), errors="coerce")
    keep = names.to_numpy() != ""
    if np.isnan(indexes[keep].astype("float64")).any():
        raise DataError(f"'{rows.source}' is not a MovieLens genre list", expected="lines of name|index",
                        got="an index that is not a number", hint="delete u.genre to use the usual 19 genres")
    order = np.argsort(indexes[keep].astype("float64"), kind="stable")
    return list(names.to_numpy()[keep][order])


def _movies_dat(folder: Path) -> pd.DataFrame:
    raw, rows = _read_delimited(folder / "movies.dat", "::", ["MovieID", "Title", "Genres"])
    return catalogue_from_table(raw, rows, "MovieID")


def _read_delimited(path: Path, separator: str, fields: list[str]) -> tuple[pd.DataFrame, Rows]:
    """A headerless MovieLens file as text cells named ``fields``; row ``i`` is line ``i + 1``."""
    name = str(path)
    data = path.read_bytes()
    if not data.strip():
        raise DataError(f"'{name}' is empty", expected=f"lines of {len(fields)} fields separated by '{separator}'",
                        got=f"{len(data)} bytes", hint="unpack the MovieLens archive again")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # MovieLens's older files; every byte is a latin-1 character
    if separator == "::":  # one-character separator for pandas's fast parser; "::" never occurs inside a field
        text, separator = text.replace("::", "\x1f"), "\x1f"
    try:
        raw = pd.read_csv(io.StringIO(text), sep=separator, header=None, dtype=str, keep_default_na=False,
                          na_filter=False, skip_blank_lines=False, quoting=csv.QUOTE_NONE)
    except pd.errors.ParserError as error:
        raise DataError(f"'{name}' cannot be read as a MovieLens file",
                        expected=f"{len(fields)} fields separated by '{_shown(separator)}' on each line",
                        got=str(error).strip().splitlines()[-1][:300],
                        hint="open it in a text editor and check the line named") from None
    if raw.shape[1] != len(fields):
        raise DataError(f"'{name}' has {raw.shape[1]} fields on line 1", expected=f"{len(fields)} fields separated "
                        f"by '{_shown(separator)}' ({', '.join(fields[:5])}{'...' if len(fields) > 5 else ''})",
                        got=f"{raw.shape[1]}", hint="check that this is the MovieLens file of that name")
    raw.columns = fields
    return raw, Rows(name, "line", 1)


def _shown(separator: str) -> str:
    return {"\t": "\\t", "\x1f": "::"}.get(separator, separator)
