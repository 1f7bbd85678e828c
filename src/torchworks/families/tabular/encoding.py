"""Columns to model inputs, with statistics of the training rows only: numbers robustly standardised (median
and interquartile range, a flag feature where training had missing cells; for an anomaly detector, a
non-negative column spread by ratios, such as prices, amounts, durations and counts, on a log scale first),
categories as indices into a vocabulary (0: a value training never saw or saw too rarely, 1: missing),
datetimes as a time line plus month, weekday and hour, free text as its length in characters and words.

The fitted encoder is a JSON-ready dict kept in the bundle's state; :class:`TableEncoder` applies it to one
record batch at a time, so a file of any size is encoded in bounded memory.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from torchworks.families.tabular.cells import booleans, categories, numbers, seconds
from torchworks.families.tabular.reading import Table

UNKNOWN, MISSING = 0, 1  # the category indices every vocabulary starts with
RESERVED = 2
MAX_CATEGORIES = 256
DAY = 86_400
PARTS = {"month": 12, "weekday": 7, "hour": 24}


@dataclass
class Encoded:
    """One batch as model inputs: standardised numbers ``[rows, numeric features]`` (float32) and category
    indices ``[rows, categorical features]`` (int64)."""

    numeric: np.ndarray
    categorical: np.ndarray

    def __len__(self) -> int:
        return len(self.numeric)


def fit_encoder(train: pa.Table, columns: list[dict], table: Table, max_categories: int = MAX_CATEGORIES,
                time_line: bool = True, ratios: bool = False) -> dict:
    """The encoding of ``columns`` (from :func:`~torchworks.families.tabular.columns.infer_columns`) fitted on
    the training rows: ``{"numeric": [...], "categorical": [...]}``, each feature a dict naming its column.

    Args:
        time_line: Whether a datetime column also gives its position in time (days), not only its month,
            weekday and hour (an anomaly detector leaves it out: when in the period a row falls says
            nothing about how odd it is).
        ratios: Whether a non-negative column spread by ratios is put on a log scale first. An anomaly
            detector's errors are measured in these units, where a price cut to a tenth is as odd as one ten
            times higher; a supervised model's number embeddings learn any monotone shape themselves (and
            measured slightly better on the linear scale)."""
    numeric, categorical = [], []
    min_count = 2 if train.num_rows >= 100 else 1  # a value seen once cannot be learned; it joins "unknown"
    for column in columns:
        name, kind = column["name"], column["kind"]
        array = train.column(name).combine_chunks()
        missing = column["missing"] > 0
        if kind == "numeric":
            numeric += _scaled(name, "value", numbers(array, name, table, 0), missing, ratios)
        elif kind == "boolean":
            categorical.append({"name": name, "column": name, "source": "flag", "values": ["false", "true"]})
        elif kind == "categorical":
            categorical.append({"name": name, "column": name, "source": "value",
                                "values": _vocabulary(categories(array), min_count, max_categories)})
        elif kind == "datetime":
            times = seconds(array, name, table, 0)
            numeric += _scaled(name, "days", times / DAY, missing) if time_line else []
            parts = _time_parts(times)
            categorical += [{"name": f"{name}.{part}", "column": name, "source": part,
                             "values": [str(v) for v in range(size)]}
                            for part, size in PARTS.items() if len(np.unique(parts[part][parts[part] >= 0])) > 1]
        else:  # free text
            lengths = _text_lengths(array)
            numeric += [feature for source in ("characters", "words")
                        for feature in _scaled(name, source, lengths[source], False)]
    return {"numeric": numeric, "categorical": categorical}


def _scaled(column: str, source: str, values: np.ndarray, missing: bool, ratios: bool = False) -> list[dict]:
    finite = values[np.isfinite(values)]
    log = ratios and source == "value" and _right_skewed(finite)
    finite = np.log1p(finite) if log else finite
    center = float(np.median(finite)) if len(finite) else 0.0
    low, high = np.percentile(finite, [25, 75]) if len(finite) else (0.0, 0.0)
    scale = float(high - low) / 1.349 or float(np.std(finite) if len(finite) else 0.0) or 1.0
    name = column if source == "value" else f"{column}.{source}"
    features = [{"name": name, "column": column, "source": source, "center": center, "scale": scale, "log": log}]
    if missing:
        features.append({"name": f"{name} (missing)", "column": column, "source": f"{source}:missing"})
    return features


def _right_skewed(values: np.ndarray) -> bool:
    """Non-negative and spread by ratios rather than differences (prices, amounts, durations, counts): the 99th
    percentile over three times the median, or the median over three times the 1st percentile. On a log scale,
    a checkout of 0.5 s is as far below a 90 s median as one of 4.5 hours above it, and a price cut to a tenth
    as odd as one ten times higher; symmetric and bounded columns stay linear."""
    if len(values) < 20 or values.min() < 0:
        return False
    low, middle, high = np.percentile(values, [1, 50, 99])
    return bool(middle > 0 and (high > 3 * middle or middle > 3 * max(low, 1e-12)))


def _vocabulary(text: pa.Array, min_count: int, limit: int) -> list[str]:
    counts = pc.value_counts(text.drop_null())
    values, frequencies = counts.field("values").to_pylist(), counts.field("counts").to_numpy()
    order = sorted(range(len(values)), key=lambda i: (-frequencies[i], values[i]))
    return [values[i] for i in order if frequencies[i] >= min_count][:limit]


def _time_parts(times: np.ndarray) -> dict[str, np.ndarray]:
    """Month 0-11, weekday 0-6 (Monday 0) and hour 0-23 of each time; -1 where missing."""
    present = np.isfinite(times)
    whole = np.where(present, times, 0).astype(np.int64)
    days = whole // DAY
    months = whole.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64) % 12
    parts = {"month": months, "weekday": (days + 3) % 7, "hour": (whole % DAY) // 3600}
    return {part: np.where(present, values, -1) for part, values in parts.items()}


def _text_lengths(array: pa.Array) -> dict[str, np.ndarray]:
    text = categories(array)
    characters = pc.utf8_length(text).to_numpy(zero_copy_only=False).astype(np.float64)
    words = pc.list_value_length(pc.utf8_split_whitespace(text)).to_numpy(zero_copy_only=False).astype(np.float64)
    return {"characters": np.log1p(np.nan_to_num(characters)), "words": np.log1p(np.nan_to_num(words))}


class TableEncoder:
    """Applies a fitted encoding to record batches, counting values training never saw per column."""

    def __init__(self, encoding: dict, columns: list[dict]):
        self.encoding = encoding
        self.kinds = {column["name"]: column["kind"] for column in columns}
        self.unseen: Counter[str] = Counter()
        self._vocabularies = {feature["name"]: pa.array(feature["values"], pa.string())
                              for feature in encoding["categorical"] if feature["source"] == "value"}

    @property
    def columns(self) -> list[str]:
        """The table columns the encoding reads."""
        return list(self.kinds)

    @property
    def feature_names(self) -> list[str]:
        """Numeric features then categorical ones, as the model sees them."""
        return [f["name"] for f in self.encoding["numeric"]] + [f["name"] for f in self.encoding["categorical"]]

    def encode(self, batch: pa.RecordBatch | pa.Table, table: Table, first_row: int = 0) -> Encoded:
        """The batch's rows as model inputs.

        Raises:
            DataError: A column is missing from the batch, or a cell does not fit its column's kind.
        """
        values = {name: self._column_values(batch, name, table, first_row) for name in self.kinds}
        rows = batch.num_rows
        numeric = np.zeros((rows, len(self.encoding["numeric"])), dtype=np.float32)
        for index, feature in enumerate(self.encoding["numeric"]):
            source, _, flag = feature["source"].partition(":")
            column = values[feature["column"]][source]
            if flag:
                numeric[:, index] = ~np.isfinite(column)
            else:
                column = np.log1p(np.maximum(column, 0)) if feature.get("log") else column
                numeric[:, index] = np.nan_to_num((column - feature["center"]) / feature["scale"], nan=0.0,
                                                  posinf=0.0, neginf=0.0)
        categorical = np.zeros((rows, len(self.encoding["categorical"])), dtype=np.int64)
        for index, feature in enumerate(self.encoding["categorical"]):
            categorical[:, index] = self._indices(feature, values[feature["column"]])
        return Encoded(numeric, categorical)

    def _column_values(self, batch: pa.RecordBatch | pa.Table, name: str, table: Table, first_row: int) -> dict:
        array = batch.column(name)
        array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
        kind = self.kinds[name]
        if pa.types.is_null(array.type):  # every cell empty (a request's None): missing cells of the column's kind
            typed = {"numeric": pa.float64(), "datetime": pa.timestamp("s")}.get(kind, pa.string())
            array = pa.nulls(len(array), typed)
        if kind == "numeric":
            return {"value": numbers(array, name, table, first_row)}
        if kind == "boolean":
            return {"flag": booleans(array)}
        if kind == "categorical":
            return {"value": categories(array)}
        if kind == "datetime":
            times = seconds(array, name, table, first_row)
            return {"days": times / DAY, **_time_parts(times)}
        return _text_lengths(array)

    def _indices(self, feature: dict, values: dict) -> np.ndarray:
        source = feature["source"]
        if source == "flag":
            flags = values["flag"]
            return np.where(np.isfinite(flags), RESERVED + np.nan_to_num(flags).astype(np.int64), MISSING)
        if source in PARTS:
            part = values[source]
            return np.where(part >= 0, RESERVED + part, MISSING)
        text = values["value"]
        found = pc.index_in(text, value_set=self._vocabularies[feature["name"]]).to_numpy(zero_copy_only=False)
        missing = text.is_null().to_numpy(zero_copy_only=False)
        unseen = np.isnan(found) & ~missing
        if unseen.any():
            self.unseen[feature["column"]] += int(unseen.sum())
        return np.where(missing, MISSING, np.where(unseen, UNKNOWN, RESERVED + np.nan_to_num(found))).astype(np.int64)

    def cardinalities(self) -> list[int]:
        """Embedding rows each categorical feature needs (its values plus unknown and missing)."""
        return [RESERVED + len(feature["values"]) for feature in self.encoding["categorical"]]
