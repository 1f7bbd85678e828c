"""What each column of a table is (numeric, categorical, boolean, datetime or free text), inferred from a
sample of rows and overridable by name, and which columns carry nothing a model can use (entirely empty,
one constant value, an id-like unique key): those are reported and left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from torchworks.errors import ConfigError, DataError, did_you_mean
from torchworks.families.tabular.cells import FALSE_WORDS, TIME_TYPES, TRUE_WORDS, is_number_text, trimmed
from torchworks.families.tabular.reading import Table

KINDS = ("numeric", "categorical", "boolean", "datetime", "text")
MOSTLY_NUMBERS = 0.9  # a column this numeric with some text in it is a mistake in the data, not a category
TEXT_LENGTH = 25  # average characters from which a column of mostly distinct values is free text
MIN_ROWS_FOR_ID = 20
ID_SHARE = 0.1  # a column named like an id is one when more than this share of rows hold distinct values


@dataclass
class Overrides:
    """Column kinds the user declared: ``categorical=``, ``numeric=``, ``drop=`` and ``id=`` (ids are carried
    to predictions, never read by the model)."""

    categorical: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)
    id: list[str] = field(default_factory=list)

    def named(self) -> dict[str, str]:
        """Each declared column and its setting."""
        return {name: role for role in ("categorical", "numeric", "drop", "id") for name in getattr(self, role)}


def check_declared(names: Iterable[str], columns: list[str], table: Table, setting: str) -> None:
    """Every column a setting names must exist.

    Raises:
        ConfigError: One does not, with the columns that do and a did-you-mean hint.
    """
    for name in names:
        if name not in columns:
            raise ConfigError(f"{setting}={name} names no column of '{table.name}'", expected="one of: " +
                              ", ".join(columns[:30]), got=name, hint=did_you_mean(name, columns))


def infer_columns(sample: pa.Table, table: Table, overrides: Overrides, reserved: Iterable[str] = ()
                  ) -> tuple[list[dict], list[dict]]:
    """The model's input columns and the columns left out, from a sample of the table's rows.

    Args:
        reserved: Columns that are not inputs (the target, a label) and are neither kept nor reported.

    Returns:
        ``([{"name", "kind", "missing"}], [{"name", "reason"}])``: inputs in file order with their missing
        cells in the sample, and each column left out with why.

    Raises:
        ConfigError: An override names no column.
        DataError: A column of numbers holds some text (the column and row named).
    """
    names = list(sample.column_names)
    declared = overrides.named()
    check_declared(declared, names, table, "a column setting")
    inputs, dropped = [], []
    for name in names:
        if name in reserved:
            continue
        role = declared.get(name)
        if role in ("drop", "id"):
            dropped.append({"name": name, "reason": "declared drop=" if role == "drop" else "an id (id=)"})
            continue
        array = trimmed(sample.column(name).combine_chunks())
        kind = role or _inferred_kind(array, name, table)
        missing = array.null_count
        if kind in ("numeric", "categorical", "boolean", "datetime", "text"):
            if missing == len(array):
                dropped.append({"name": name, "reason": "entirely empty"})
            elif role is None and missing == 0 and pc.count_distinct(array).as_py() <= 1:
                dropped.append({"name": name, "reason": f"constant ({array[0].as_py()!r} in every row)"})
            else:
                inputs.append({"name": name, "kind": kind, "missing": int(missing)})
        else:
            dropped.append({"name": name, "reason": kind})
    if not inputs:
        raise DataError(f"'{table.name}' has no column a model can read", expected="at least one column of "
                        "numbers, categories, flags or times besides the target", got="; ".join(
                            f"{d['name']}: {d['reason']}" for d in dropped[:6]) or "no other column",
                        hint="check the file, or declare a column's kind (numeric=NAME or categorical=NAME)")
    return inputs, dropped


def _inferred_kind(array: pa.Array, name: str, table: Table) -> str:
    """A column's kind, or the reason it is left out (``"id-like: every value unique"``)."""
    kind = array.type
    present = array.drop_null()
    if len(present) == 0:
        return "numeric"  # reported as empty by the caller
    distinct = pc.count_distinct(present).as_py()
    unique_key = distinct == len(array) and len(array) >= MIN_ROWS_FOR_ID
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return "datetime"
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "numeric"
    if pa.types.is_integer(kind):
        return _id_reason(distinct, len(array)) if unique_key or _named_like_id(name, distinct, len(array)) \
            else "numeric"
    if pa.types.is_dictionary(kind):
        return "categorical"
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return f"not a table cell type ({kind})"
    return _text_kind(present, name, table, distinct, unique_key, len(array))


def _text_kind(present: pa.Array, name: str, table: Table, distinct: int, unique_key: bool, rows: int) -> str:
    fits = is_number_text(present).to_numpy(zero_copy_only=False)
    if fits.all():
        if pc.any(pc.match_substring_regex(present, r"^0\d")).as_py():
            return "categorical"  # codes with leading zeros (zip codes, account numbers) are not quantities
        whole = pc.all(pc.match_substring_regex(present, r"^[-+]?\d+$")).as_py()
        if whole and (unique_key or _named_like_id(name, distinct, rows)):
            return _id_reason(distinct, rows)
        return "numeric"
    if fits.mean() >= MOSTLY_NUMBERS:
        cell = present[int(np.flatnonzero(~fits)[0])].as_py()
        raise DataError(f"column '{name}' of '{table.name}' is numbers with some text: {fits.mean():.1%} of its "
                        f"cells are numbers, but not {cell[:40]!r}", expected="a number in every cell (or an "
                        "empty cell)", got=f"{int((~fits).sum())} cells of text in the rows read",
                        hint=f"fix those cells, or declare categorical={name} if it is not a quantity")
    lowered = set(pc.unique(pc.utf8_lower(present)).to_pylist())
    if lowered <= set(TRUE_WORDS + FALSE_WORDS) and len(lowered) == 2:
        return "boolean"
    if _all_times(present):
        return "datetime"
    lengths = pc.utf8_length(present).to_numpy(zero_copy_only=False)
    spaced = pc.match_substring(present, " ").to_numpy(zero_copy_only=False).mean()
    if lengths.mean() >= TEXT_LENGTH and spaced >= 0.5 and distinct >= 0.3 * len(present):
        return "text"
    if unique_key or _named_like_id(name, distinct, rows):
        return _id_reason(distinct, rows)
    return "categorical"


def _all_times(present: pa.Array) -> bool:
    if not pc.all(pc.match_substring_regex(present, r"^\d{4}-\d{2}-\d{2}")).as_py():
        return False
    for kind in TIME_TYPES:
        try:
            pc.cast(present, kind)
            return True
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return False


def _named_like_id(name: str, distinct: int, rows: int) -> bool:
    """A column named like an id (``id``, ``customer_id``, ``userId``) whose values mostly recur rarely: one
    value per customer or order says nothing a model can learn for new ones, and lets it memorise the few
    that recur (a bot's burst of orders)."""
    lowered = name.lower()
    named = lowered == "id" or lowered.endswith("_id") or (lowered.endswith("id") and name[-2:] == "Id")
    return named and distinct > ID_SHARE * rows and rows >= MIN_ROWS_FOR_ID


def _id_reason(distinct: int, rows: int) -> str:
    share = "every value unique" if distinct >= rows else f"{distinct:,} distinct values in {rows:,} rows"
    return f"id-like ({share}; declare categorical= or numeric= to keep it)"
