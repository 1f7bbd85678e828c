"""Reading a table of texts (and labels) and checking it row by row, with rows named as the user sees them.

Policies, stated once: an empty text or an empty label skips its row with a warning naming the
rows (``bad_rows=fail`` makes it an error); bytes that are not in the file's encoding are an error
naming the lines; a ``split`` column of train/val/test values is honoured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from torchworks.errors import DataError
from torchworks.tables import Rows, as_text, blank_rows, counted, find_column, read_source, require_column
from torchworks.uploads import Upload

TEXT_NAMES = ("text", "texts", "review", "message", "body", "content", "sentence", "ticket", "description",
              "comment", "utterance", "query", "document")
LABEL_NAMES = ("label", "labels", "category", "class", "intent", "sentiment", "target", "topic", "tags", "tag")
SPLIT_NAMES = ("split",)
_SPLIT_VALUES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                 "dev": "val", "test": "test", "testing": "test", "holdout": "test"}
WHAT = "a CSV, TSV, JSON lines or Parquet file of texts"


@dataclass
class TextTable:
    """The usable rows of a text table: texts, their labels, fixed splits and row numbers."""

    texts: list[str]
    labels: list[list[str]] | None
    splits: list[str | None]
    numbers: list[int]
    rows: Rows
    text_column: str
    notes: list[str] = field(default_factory=list)
    other_columns: list[dict[str, str]] = field(default_factory=list)
    label_column: str | None = None


def read_texts(
    source: str | Path | pd.DataFrame | Upload,
    *,
    text: str | None = None,
    label: str | None = None,
    label_sep: str | None = None,
    split_column: str | None = None,
    encoding: str = "utf-8",
    bad_rows: str = "skip",
    with_labels: bool = True,
    preferred_text: str | None = None,
    keep_other_columns: bool = False,
) -> TextTable:
    """Read ``source`` and keep the rows that can be used.

    Args:
        preferred_text: Without ``text``, use this column when it exists (the column a model was
            trained on) before looking for a column by its name.
        keep_other_columns: Keep each row's other cells (ids, dates), to carry them into predictions.

    Raises:
        DataError: A missing column (the message lists those that exist), an unreadable file, an
            empty table, or (with ``bad_rows=fail``) an empty text or label, naming the rows.
    """
    frame, rows = read_source(source, WHAT + (" and labels" if with_labels else ""), encoding)
    numbers = np.arange(len(frame)) + rows.first
    keep = ~blank_rows(frame)
    text_column = _text_column(frame, text, rows, preferred_text)
    texts, empty = as_text(frame[text_column])
    notes: list[str] = []
    problems = [("an empty text", empty)]
    labels, label_column = None, None
    if with_labels:
        label_column = _label_column(frame, label, text_column, rows)
        cells = as_text(_whole_numbers(frame[label_column]))[0]
        labels = [_split_labels(cell, label_sep) for cell in cells]
        problems.append(("no label", np.array([not names for names in labels])))
    for reason, mask in problems:
        bad = mask & keep
        if bad.any():
            message = f"{counted(int(bad.sum()), 'row')} of '{rows.source}' with {reason} ({rows.name(numbers[bad])})"
            if bad_rows == "fail":
                raise DataError(message, expected="a text and a label on every row", got=reason,
                                hint="fix those rows, or set bad_rows=skip to leave them out")
            notes.append(f"skipped {message}")
            keep &= ~bad
    if not keep.any():
        raise DataError(f"'{rows.source}' has no usable rows", expected="rows with a text"
                        + (" and a label" if with_labels else ""), got="none", hint="check the columns named")
    splits = _splits(frame, split_column, rows, numbers) if with_labels else [None] * len(frame)
    index = np.flatnonzero(keep)
    return TextTable(
        texts=[texts.iloc[i] for i in index],
        labels=[labels[i] for i in index] if labels is not None else None,
        splits=[splits[i] for i in index],
        numbers=[int(numbers[i]) for i in index],
        rows=rows,
        text_column=text_column,
        notes=notes,
        other_columns=_other_columns(frame, text_column, index) if keep_other_columns else [],
        label_column=label_column,
    )


def _other_columns(frame: pd.DataFrame, text_column: str, index: np.ndarray) -> list[dict[str, str]]:
    others = [c for c in frame.columns if c != text_column]
    cells = {c: as_text(frame[c])[0] for c in others}
    return [{c: cells[c].iloc[i] for c in others} for i in index]


def _text_column(frame: pd.DataFrame, name: str | None, rows: Rows, preferred: str | None) -> str:
    if name:
        return require_column(frame, name, "text", rows)
    if preferred in frame.columns:
        return preferred
    found = find_column(frame, TEXT_NAMES)
    if found is not None:
        return found
    if len(frame.columns) == 1:
        return frame.columns[0]
    raise DataError(f"no text column found in '{rows.source}'",
                    expected="a column named " + ", ".join(TEXT_NAMES[:6]) + "... (any case)",
                    got="columns " + ", ".join(frame.columns), hint="text=COLUMN names the column of texts")


def _label_column(frame: pd.DataFrame, name: str | None, text_column: str, rows: Rows) -> str:
    if name:
        return require_column(frame, name, "label", rows)
    found = find_column(frame, LABEL_NAMES)
    if found is not None and found != text_column:
        return found
    raise DataError(f"no label column found in '{rows.source}'",
                    expected="a column named " + ", ".join(LABEL_NAMES[:6]) + "... (any case)",
                    got="columns " + ", ".join(frame.columns), hint="label=COLUMN names the column of labels")


def _whole_numbers(column: pd.Series) -> pd.Series:
    """Labels 0/1 read from Parquet or JSON as floats show as ``1``, not ``1.0``."""
    if ptypes.is_float_dtype(column) and np.all(column.dropna() == np.floor(column.dropna())):
        return column.astype("Int64")
    return column


def _split_labels(cell: str, separator: str | None) -> list[str]:
    if not cell:
        return []
    if separator is None:
        return [cell]
    parts = [part.strip() for part in cell.split(separator)]
    return list(dict.fromkeys(part for part in parts if part))


def _splits(frame: pd.DataFrame, name: str | None, rows: Rows, numbers: np.ndarray) -> list[str | None]:
    column = require_column(frame, name, "split", rows) if name else find_column(frame, SPLIT_NAMES)
    if column is None:
        return [None] * len(frame)
    values, missing = as_text(frame[column])
    mapped = [None if gone else _SPLIT_VALUES.get(v.lower()) for v, gone in zip(values, missing)]
    bad = np.array([m is None and not gone for m, gone in zip(mapped, missing)])
    if bad.any():
        shown = sorted({values.iloc[i] for i in np.flatnonzero(bad)})[:5]
        raise DataError(f"split column '{column}' of '{rows.source}' has unknown values",
                        expected="train, val or test (or empty: chosen for you)",
                        got=f"{', '.join(repr(s) for s in shown)} on {rows.name(numbers[bad])}",
                        hint="use train/val/test, or split_column= another column")
    return mapped


def label_counts(labels: Sequence[Sequence[str]]) -> dict[str, int]:
    """How many rows carry each label."""
    counts: dict[str, int] = {}
    for row in labels:
        for name in row:
            counts[name] = counts.get(name, 0) + 1
    return counts
