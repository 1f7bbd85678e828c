"""A table with a target column into train, validation and test rows: the target found and checked (one
class, text in a regression target), the kind of problem inferred, the split stratified, the columns
encoded with the training rows' statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from torchworks.errors import ConfigError, DataError, did_you_mean
from torchworks.families.tabular.cells import categories, is_number_text, numbers, trimmed
from torchworks.families.tabular.encoding import Encoded
from torchworks.families.tabular.preparation import (
    FittedColumns,
    SampledTable,
    column_table,
    encode_rows,
    fingerprint,
    fit_columns,
    sample_table,
    table_facts,
)
from torchworks.families.tabular.rows import EncodedRows
from torchworks.tasks.protocol import PreparedData
from torchworks.tasks.tabular.config import TabularConfig

TARGET_NAMES = ("target", "label", "class", "y", "outcome", "default")
POSITIVE_NAMES = ("1", "true", "yes", "positive", "fraud", "default", "malignant", "churn")
MIN_REGRESSION_VALUES = 20  # a target of numbers with fewer distinct values is classes (grades, counts 0-5)


@dataclass(kw_only=True)
class TabularData(PreparedData):
    """Prepared data plus what the baselines, the threshold and explanations read: the encoded rows and
    targets of each split and the sampled table."""

    sampled: SampledTable
    encoded: dict[str, Encoded] = field(default_factory=dict)
    targets: dict[str, np.ndarray] = field(default_factory=dict)
    column_rows: list[dict[str, Any]] = field(default_factory=list)  # the report's table of columns


def prepare_tabular_data(config: TabularConfig, state: dict[str, Any] | None = None) -> TabularData:
    """Read, check, split and encode ``config.data`` (with a bundle's ``state``: its columns, classes and
    scale, nothing fitted again).

    Raises:
        ConfigError: The target column is not in the table.
        DataError: The file cannot be read, the target has one class or text in a regression, a column of
            numbers holds text, or no column is left to read.
    """
    sampled = sample_table(config)
    target = state["target"] if state else _target_column(config, sampled)
    sampled = _rows_with_target(sampled, target)
    values = trimmed(sampled.rows.column(target).combine_chunks())
    task_type = state["task_type"] if state else _task_type(config, values, target, sampled)
    if task_type == "classification":
        text = categories(values)
        labels = state["labels"] if state else _labels(text, target, sampled)
        codes = pc.index_in(text, value_set=pa.array(labels)).to_numpy(zero_copy_only=False)
        keep = ~np.isnan(codes.astype(np.float64))  # a class the bundle does not know: those rows cannot be scored
        strata = [labels[int(c)] if k else "?" for c, k in zip(np.nan_to_num(codes), keep)]
    else:
        target_values = numbers(values, target, _Names(sampled), 0)
        labels, keep = [], np.isfinite(target_values)
        strata = _quantile_bins(target_values)
    from torchworks.splitting import assign_splits

    splits = np.array(assign_splits(strata, [None] * len(strata), config.val_fraction, config.test_fraction,
                                    config.seed, noun="row", rare="train"))
    splits[~keep] = "none"
    fitted = _fitted(state, sampled, splits == "train", config, target)
    encoded_all = encode_rows(fitted.encoder(), sampled)
    if task_type == "classification":
        targets_all = np.nan_to_num(codes).astype(np.int64)
        state = state or _classification_state(config, labels, targets_all[splits == "train"])
    else:
        state = state or _regression_state(target_values[splits == "train"])
        targets_all = ((np.nan_to_num(target_values) - state["target_center"]) / state["target_scale"])
        targets_all = targets_all.astype(np.float32)
    state = {**fitted.state(), "target": target, "task_type": task_type, **state}
    return _prepared(config, sampled, splits, encoded_all, targets_all, state, fitted)


class _Names:
    def __init__(self, sampled: SampledTable):
        self.sampled, self.name = sampled, sampled.table.name

    def row_name(self, index: int) -> str:
        return self.sampled.row_name(index)


def _target_column(config: TabularConfig, sampled: SampledTable) -> str:
    columns = sampled.rows.column_names
    if config.target is not None:
        if config.target not in columns:
            raise ConfigError(f"target column '{config.target}' is not in '{sampled.table.name}'",
                              expected="one of: " + ", ".join(columns[:30]), got=config.target,
                              hint=did_you_mean(config.target, columns))
        return config.target
    lowered = {name.lower(): name for name in reversed(columns)}
    for name in TARGET_NAMES:
        if name in lowered:
            return lowered[name]
    raise ConfigError(f"which column of '{sampled.table.name}' is the target?", expected="target=COLUMN",
                      got="no column named " + ", ".join(TARGET_NAMES[:4]),
                      hint=f"for example target={columns[-1]}")


def _rows_with_target(sampled: SampledTable, target: str) -> SampledTable:
    """Rows whose target cell is empty cannot train or test: they are left out."""
    present = trimmed(sampled.rows.column(target).combine_chunks()).is_valid()
    if pc.all(present).as_py():
        return sampled
    if not pc.any(present).as_py():
        raise DataError(f"target column '{target}' of '{sampled.table.name}' is empty in every row",
                        expected="a value in most rows", got="no value", hint="check the column named target=")
    mask = present.to_numpy(zero_copy_only=False)
    return SampledTable(sampled.table, sampled.rows.filter(present), sampled.numbers[mask], sampled.total)


def _task_type(config: TabularConfig, values: pa.Array, target: str, sampled: SampledTable) -> str:
    if config.task_type == "regression":
        numbers(values, target, _Names(sampled), 0)  # text in a regression target: its row named
        return "regression"
    if config.task_type == "classification":
        return "classification"
    numeric = pa.types.is_floating(values.type) or pa.types.is_integer(values.type) or (
        pa.types.is_string(values.type) and pc.all(is_number_text(values)).as_py())
    if not numeric:
        return "classification"
    distinct = pc.count_distinct(values).as_py()
    whole = pc.all(pc.equal(pc.floor(pc.cast(values, pa.float64())), pc.cast(values, pa.float64()))).as_py()
    return "regression" if distinct >= MIN_REGRESSION_VALUES or (not whole and distinct > 2) else "classification"


def _labels(text: pa.Array, target: str, sampled: SampledTable) -> list[str]:
    counts = pc.value_counts(text)
    labels = sorted(counts.field("values").to_pylist(), key=_label_order)
    if len(labels) < 2:
        raise DataError(f"target column '{target}' of '{sampled.table.name}' has one class",
                        expected="at least two classes to tell apart", got=f"{labels[0]!r} in every row",
                        hint="check the target column, or task_type=regression for a quantity")
    return labels


def _label_order(label: str) -> tuple:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def _quantile_bins(values: np.ndarray, bins: int = 5) -> list[str]:
    finite = values[np.isfinite(values)]
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])) if len(finite) else np.array([])
    return [str(b) for b in np.digitize(np.nan_to_num(values), edges)]


def _fitted(state: dict | None, sampled: SampledTable, train: np.ndarray, config: TabularConfig,
            target: str) -> FittedColumns:
    if state is not None:
        return FittedColumns(state["columns"], state["dropped"], state["ids"], state["encoding"])
    return fit_columns(sampled, train, config, reserved=(target,))


def _classification_state(config: TabularConfig, labels: list[str], train_targets: np.ndarray) -> dict[str, Any]:
    counts = np.bincount(train_targets, minlength=len(labels)).astype(np.float64)
    weights = None
    if config.class_weights == "auto":
        inverse = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / len(labels), 0.0)
        weights = [round(float(w), 6) for w in inverse / inverse[counts > 0].mean()]
    positive = None
    if len(labels) == 2:
        if config.positive is not None and config.positive not in labels:
            raise ConfigError(f"positive={config.positive} is not a class of the target", expected="one of: " +
                              ", ".join(labels), got=config.positive, hint=did_you_mean(config.positive, labels))
        named = [label for label in labels if label.lower() in POSITIVE_NAMES]
        positive = config.positive or (named[0] if named else labels[int(np.argmin(counts))])
    return {"labels": labels, "positive": positive, "class_weights": weights, "threshold": config.threshold,
            "decision_threshold": 0.5 if len(labels) == 2 else None, "threshold_choice": {}}


def _regression_state(train_values: np.ndarray) -> dict[str, Any]:
    scale = float(np.std(train_values)) or 1.0
    return {"labels": [], "target_center": float(np.mean(train_values)), "target_scale": scale}


def _prepared(config: TabularConfig, sampled: SampledTable, splits: np.ndarray, encoded: Encoded,
              targets: np.ndarray, state: dict[str, Any], fitted: FittedColumns) -> TabularData:
    parts = {name: Encoded(encoded.numeric[splits == name], encoded.categorical[splits == name])
             for name in ("train", "val", "test")}
    split_targets = {name: targets[splits == name] for name in parts}
    datasets = {name: EncodedRows(parts[name], split_targets[name]) for name in parts}
    summary = table_facts(sampled, fitted, {name: int((splits == name).sum()) for name in parts})
    summary["target"] = f"{state['target']} ({state['task_type']})"
    if state["task_type"] == "classification":
        counts = np.bincount(split_targets["train"], minlength=len(state["labels"]))
        summary["training rows per class"] = {label: int(n) for label, n in zip(state["labels"], counts)}
    return TabularData(train=datasets["train"], val=datasets["val"], test=datasets["test"], state=state,
                       summary=summary, fingerprint=fingerprint(sampled), sampled=sampled, encoded=parts,
                       targets=split_targets, column_rows=column_table(fitted, sampled.rows.num_rows))
