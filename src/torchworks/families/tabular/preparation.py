"""A table read for training: a bounded uniform sample of its rows (the file is streamed, never loaded
whole), its columns inferred, the encoding fitted on the training rows only, and the facts the report shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from torchworks.families.tabular.columns import Overrides, check_declared, infer_columns
from torchworks.families.tabular.encoding import Encoded, TableEncoder, fit_encoder
from torchworks.families.tabular.reading import Table, open_table, read_rows
from torchworks.families.tabular.settings import TableColumnsConfig


@dataclass
class SampledTable:
    """The rows training reads: at most ``max_rows`` of the table's ``total``, in file order."""

    table: Table
    rows: pa.Table
    numbers: np.ndarray  # each row's 0-based number in the file
    total: int

    def row_name(self, position: int) -> str:
        """How the user finds the sampled row at ``position`` in their file."""
        return self.table.row_name(int(self.numbers[position]))


def sample_table(config: TableColumnsConfig) -> SampledTable:
    """The training rows of ``config.data`` (a sample dataset's name or a path).

    Raises:
        DataError: The file is missing, empty, not a table, or cannot be parsed.
    """
    from torchworks.datasets import sample_or_path

    table = open_table(sample_or_path(config.data))
    rows, numbers, total = read_rows(table, config.max_rows, config.seed)
    rows = rows.rename_columns([str(name).strip() for name in rows.column_names])
    return SampledTable(table, rows, numbers, total)


def overrides_of(config: TableColumnsConfig) -> Overrides:
    return Overrides(list(config.categorical), list(config.numeric), list(config.drop), list(config.id))


@dataclass
class FittedColumns:
    """The inputs chosen and their encoding, the columns left out, and the id columns."""

    columns: list[dict[str, Any]]
    dropped: list[dict[str, Any]]
    ids: list[str]
    encoding: dict[str, Any]

    def encoder(self) -> TableEncoder:
        return TableEncoder(self.encoding, self.columns)

    def state(self) -> dict[str, Any]:
        """The entries of :class:`~torchworks.families.tabular.state.TableState`."""
        return {"columns": self.columns, "dropped": self.dropped, "ids": self.ids, "encoding": self.encoding}


def fit_columns(sampled: SampledTable, train: np.ndarray, config: TableColumnsConfig,
                reserved: tuple[str, ...] = (), time_line: bool = True, ratios: bool = False) -> FittedColumns:
    """Infer the columns from the sampled rows and fit their encoding on the rows where ``train`` is true.

    Raises:
        ConfigError: A column setting names no column.
        DataError: A column of numbers holds text, or no column is left to read.
    """
    overrides = overrides_of(config)
    check_declared(config.id, sampled.rows.column_names, sampled.table, "id")
    columns, dropped = infer_columns(sampled.rows, sampled.table, overrides, reserved)
    training_rows = sampled.rows.filter(pa.array(train))
    encoding = fit_encoder(training_rows, columns, sampled.table, config.max_categories, time_line, ratios)
    return FittedColumns(columns, dropped, list(config.id), encoding)


def encode_rows(encoder: TableEncoder, sampled: SampledTable, chunk: int = 65_536) -> Encoded:
    """Every sampled row encoded, a chunk at a time (a cell that does not fit names its file row)."""
    from torchworks.families.tabular.rows import concatenated

    parts = []
    for start in range(0, sampled.rows.num_rows, chunk):
        part = sampled.rows.slice(start, chunk)
        parts.append(encoder.encode(part, _RowNames(sampled, start), 0))
    return concatenated(parts) if parts else encoder.encode(sampled.rows, sampled.table, 0)


class _RowNames:
    """A table whose row names follow the sample's file rows from position ``start`` on."""

    def __init__(self, sampled: SampledTable, start: int):
        self.sampled, self.start, self.name = sampled, start, sampled.table.name

    def row_name(self, index: int) -> str:
        return self.sampled.row_name(self.start + index)


def column_table(fitted: FittedColumns, rows: int) -> list[dict[str, Any]]:
    """A report row per column: its kind and missing cells, or why it was left out."""
    table = [{"column": c["name"], "kind": c["kind"], "missing": c["missing"],
              "missing share": round(c["missing"] / max(1, rows), 4), "note": ""} for c in fitted.columns]
    table += [{"column": d["name"], "kind": "left out", "missing": "", "missing share": "", "note": d["reason"]}
              for d in fitted.dropped]
    return table


def table_facts(sampled: SampledTable, fitted: FittedColumns, split_sizes: dict[str, int]) -> dict[str, Any]:
    """The report's facts about the rows read and the columns: how many, what kinds, what was left out."""
    kinds = [column["kind"] for column in fitted.columns]
    return {
        "rows": f"{sampled.rows.num_rows:,} of {sampled.total:,}" + (" (a uniform sample; max_rows=)"
                                                                     if sampled.rows.num_rows < sampled.total else ""),
        **{f"{name} rows": size for name, size in split_sizes.items()},
        "inputs": ", ".join(f"{kinds.count(kind)} {kind}" for kind in ("numeric", "categorical", "boolean",
                                                                        "datetime", "text") if kind in kinds),
        "left out": "; ".join(f"{d['name']} ({d['reason']})" for d in fitted.dropped) or "none",
        "missing cells": sum(c["missing"] for c in fitted.columns),
    }


def fingerprint(sampled: SampledTable) -> str:
    """A short hash of the table read (its name, size, schema and first rows), to notice when it changed."""
    import hashlib

    digest = hashlib.sha256(f"{sampled.table.name}:{sampled.total}:{sampled.rows.schema}".encode())
    for column in sampled.rows.slice(0, 2000).columns:
        digest.update(str(column.to_pylist()).encode())
    return digest.hexdigest()[:16]
