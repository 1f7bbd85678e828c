"""One column of a record batch as numbers, times or category text, whatever type the file stored it as
(a CSV's text, a Parquet integer or timestamp, a JSON boolean), with a cell that does not fit named by its
column and row. Everything here is vectorised with Arrow's compute kernels: a few million cells a second.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from torchworks.errors import DataError
from torchworks.families.tabular.reading import Table

NUMBER = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(inf|infinity|nan)$"
TRUE_WORDS = ("true", "yes", "y", "t")
FALSE_WORDS = ("false", "no", "n", "f")
# how text times are parsed, in order: without a zone (taken as UTC), then with one; microseconds keep
# fractions of a second ("09:11:50.000Z") parseable
TIME_TYPES = (pa.timestamp("us"), pa.timestamp("us", tz="UTC"))


def trimmed(array: pa.Array) -> pa.Array:
    """Text cells with surrounding spaces removed and blank ones missing (dictionary-encoded cells decoded);
    other types unchanged."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        return array
    text = pc.utf8_trim_whitespace(array)
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text)


def is_number_text(array: pa.Array) -> pa.Array:
    """Per cell: does the text read as a number (missing cells are null)?"""
    return pc.match_substring_regex(array, NUMBER, ignore_case=True)


def numbers(array: pa.Array, column: str, table: Table, first_row: int) -> np.ndarray:
    """The column as float64, NaN where missing.

    Args:
        first_row: The 0-based row of the batch's first cell in the whole table (for messages).

    Raises:
        DataError: A cell is text that is not a number, naming the column, the row and the text.
    """
    array = trimmed(array)
    kind = array.type
    if pa.types.is_boolean(kind):
        return pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return seconds(array, column, table, first_row)
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise DataError(f"column '{column}' of '{table.name}' holds {kind} values", expected="numbers", got=str(kind),
                        hint=f"declare it as categorical=...{column} or drop={column}")
    fits = is_number_text(array)
    if pc.any(pc.invert(pc.fill_null(fits, True))).as_py():
        index = int(np.flatnonzero(~fits.fill_null(True).to_numpy(zero_copy_only=False))[0])
        text = array[index].as_py()
        raise DataError(f"column '{column}' of '{table.name}' holds text at {table.row_name(first_row + index)}",
                        expected="a number (or an empty cell for a missing one)", got=repr(text[:40]),
                        hint=_number_hint(text, column))
    return pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)


def _number_hint(text: str, column: str) -> str:
    if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?", text):
        return "write numbers without thousands separators"
    return f"fix that cell, or declare the column categorical=...{column} if it is not a quantity"


def seconds(array: pa.Array, column: str, table: Table, first_row: int) -> np.ndarray:
    """Times as float seconds since 1970 (UTC; a time without a zone is taken as UTC), NaN where missing.

    Raises:
        DataError: A cell that is not a date or time, naming the column and row.
    """
    array = trimmed(array)
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        array = _parsed_times(array, column, table, first_row)
    elif pa.types.is_date(array.type):
        array = pc.cast(array, pa.timestamp("s"))
    elif not pa.types.is_timestamp(array.type):
        raise DataError(f"column '{column}' of '{table.name}' holds {array.type} values", expected="dates or times",
                        got=str(array.type), hint=f"declare it as numeric={column} or drop={column}")
    micros = pc.cast(pc.cast(array, pa.timestamp("us", tz=getattr(array.type, "tz", None))), pa.int64())
    return micros.to_numpy(zero_copy_only=False).astype(np.float64) / 1e6


def _parsed_times(array: pa.Array, column: str, table: Table, first_row: int) -> pa.Array:
    for kind in TIME_TYPES:
        try:
            return pc.cast(array, kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    for index, cell in enumerate(array.to_pylist()):  # rare: find the cell at fault
        try:
            if cell is not None:
                pc.cast(pa.array([cell]), TIME_TYPES[1])
        except pa.ArrowInvalid:
            try:
                pc.cast(pa.array([cell]), TIME_TYPES[0])
            except pa.ArrowInvalid:
                raise DataError(f"column '{column}' of '{table.name}' holds a cell that is not a time at "
                                f"{table.row_name(first_row + index)}", expected="an ISO date or time "
                                "(2026-01-05 or 2026-01-05 18:30:00)", got=repr(cell[:40]),
                                hint=f"fix that cell, or declare categorical=...{column}") from None
    raise DataError(f"column '{column}' of '{table.name}' mixes times with and without a zone", expected="one form "
                    "for every cell", got="both", hint="write every time in UTC with a Z, or none with a zone")


def categories(array: pa.Array) -> pa.Array:
    """Cells as category text (numbers and booleans as their text), missing cells null."""
    array = trimmed(array)
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_boolean(array.type):
        return pc.if_else(array, "true", "false")
    if pa.types.is_floating(array.type):  # 3.0 and 3 are one category
        whole = pc.equal(pc.floor(array), array)
        as_int = pc.cast(pc.cast(pc.if_else(whole, array, 0.0), pa.int64()), pa.string())
        return pc.if_else(whole, as_int, pc.cast(array, pa.string()))
    return trimmed(pc.cast(array, pa.string()))


def booleans(array: pa.Array) -> np.ndarray:
    """1.0 for true-like cells, 0.0 for false-like, NaN for missing or anything else."""
    if pa.types.is_boolean(array.type):
        return pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
    text = pc.utf8_lower(categories(array))
    result = np.full(len(array), np.nan)
    result[pc.fill_null(pc.is_in(text, pa.array(TRUE_WORDS + ("1",))), False).to_numpy(zero_copy_only=False)] = 1.0
    result[pc.fill_null(pc.is_in(text, pa.array(FALSE_WORDS + ("0",))), False).to_numpy(zero_copy_only=False)] = 0.0
    return result
