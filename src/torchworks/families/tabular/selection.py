"""Which rows of a table to explain: ``rows=0:5`` (a slice of data rows, 0-based), ``rows=7`` (one row) or
``rows=top:20`` (the rows the model scores highest). Without ``rows=``, the first ``DEFAULT_ROWS`` rows, and
a line saying how to choose others, since an explanation costs hundreds of model calls a row."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from torchworks.errors import ConfigError
from torchworks.families.tabular.rows import EncodedRows

DEFAULT_ROWS = 10
_SPEC = re.compile(r"^(?:(\d+)|(\d*):(\d*)|top:(\d+))$")


def selected_rows(rows: EncodedRows, ids: list[Any], spec: str | None,
                  scores: Callable[[EncodedRows], np.ndarray] | None = None) -> tuple[EncodedRows, list[Any]]:
    """The rows ``spec`` names, with their ids.

    Args:
        scores: The model's score of each row (higher first for ``top:N``); without it ``top:`` is refused.

    Raises:
        ConfigError: A spec that is not a row, a slice or top:N, or that selects no row.
    """
    chosen = _positions(len(rows), spec, rows, scores)
    if len(chosen) == 0:
        raise ConfigError(f"rows={spec} selects no row", expected=f"rows among 0 to {len(rows) - 1}", got=str(spec),
                          hint="for example rows=0:5 or rows=top:20")
    index = np.asarray(chosen, dtype=np.int64)
    subset = EncodedRows.__new__(EncodedRows)
    subset.numeric, subset.categorical = rows.numeric[index], rows.categorical[index]
    subset.targets = None if rows.targets is None else rows.targets[index]
    return subset, [ids[int(i)] for i in index]


def _positions(count: int, spec: str | None, rows: EncodedRows,
               scores: Callable[[EncodedRows], np.ndarray] | None) -> list[int]:
    if spec is None or str(spec).strip() == "":
        if count > DEFAULT_ROWS:
            from torchworks.console import say

            say(f"explaining the first {DEFAULT_ROWS} of {count:,} rows (rows=0:100 or rows=top:20 chooses others)")
        return list(range(min(count, DEFAULT_ROWS)))
    match = _SPEC.match(str(spec).strip().lower())
    if match is None:
        raise ConfigError(f"rows={spec} is not a choice of rows", expected="a row (7), a slice (0:5) or top:N",
                          got=str(spec), hint="rows are numbered from 0 in file order")
    single, start, stop, top = match.groups()
    if single is not None:
        return [int(single)] if int(single) < count else []
    if top is not None:
        if scores is None:
            raise ConfigError("rows=top:N needs a model that scores rows", expected="a row or a slice", got=str(spec))
        return np.argsort(-scores(rows), kind="stable")[: int(top)].tolist()  # the highest score first
    return list(range(count))[slice(int(start) if start else None, int(stop) if stop else None)]
