"""The parts of the task interface every table task answers alike: rows collated into
``{"numeric", "categorical"}`` batches, a request's JSON row as an input, an example batch and dynamic axes
for export, and ``rows=`` choosing what to explain. A table task mixes in :class:`TableInterface` and
supplies ``row_scores`` (what ``rows=top:N`` ranks by). Imports nothing heavy until a method runs."""

from __future__ import annotations

import math
from typing import Any

TABLE_UPLOADS = (".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".parquet", ".pq")
Cell = str | float | int | bool | None  # one value of a row sent as JSON


class TableInterface:
    """Mixed into a table task (before ``Task``)."""

    def collate_fn(self, *, labelled: bool):
        from torchworks.families.tabular.rows import collate_rows

        return collate_rows

    def example_input(self, state: dict[str, Any]) -> dict[str, Any]:
        from torchworks.families.tabular.tokens import reference_inputs

        numeric, categorical = reference_inputs(len(state["encoding"]["numeric"]),
                                                len(state["encoding"]["categorical"]), rows=2)
        return {"numeric": numeric, "categorical": categorical}

    def dynamic_axes(self, state: dict[str, Any]) -> dict[str, dict[int, str]]:
        return {"numeric": {0: "batch"}, "categorical": {0: "batch"}}

    def from_json(self, item: dict[str, Any], state: dict[str, Any]) -> Any:
        from torchworks.families.tabular.inputs import InlineRow

        return InlineRow(dict(item))

    def explain_inputs(self, model: Any, inputs: Any, state: dict[str, Any], options: dict[str, str]):
        from torchworks.families.tabular.selection import selected_rows

        dataset, ids = self.predict_inputs(inputs, state)
        return selected_rows(dataset, ids, options.get("rows"), lambda rows: self.row_scores(model, rows, state))

    def row_scores(self, model: Any, rows: Any, state: dict[str, Any]) -> Any:
        """One number per row, higher first for ``rows=top:N`` (a probability, a value, an anomaly score)."""
        raise NotImplementedError(f"{type(self).__name__} has no row_scores for rows=top:N")

    def explanation_overview(self, explanations: list[Any], state: dict[str, Any]) -> Any:
        from torchworks.families.tabular.attributions import importance_overview

        return importance_overview(explanations, state)


def typical_row(state: dict[str, Any]) -> dict[str, Any]:
    """A typical row of the training table, in its column order: every number at its training median (back on
    its own scale where it was encoded on a log scale), every category its most frequent value, a yes/no column
    its last value; other columns (times, free text) empty."""
    row: dict[str, Any] = {}
    for feature in state["encoding"]["numeric"]:
        if feature["source"] == "value":
            center = math.expm1(feature["center"]) if feature.get("log") else feature["center"]
            row[feature["column"]] = round(center, 4)
    for feature in state["encoding"]["categorical"]:
        if feature["source"] in ("value", "flag") and feature["values"]:
            row[feature["column"]] = feature["values"][-1 if feature["source"] == "flag" else 0]
    return {column["name"]: row.get(column["name"]) for column in state["columns"]}
