"""A table into train, validation and test rows for an anomaly detector: no labels needed; a label column,
when named, is set aside (never a model input) and read as 1 for an anomaly and 0 for a normal row."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow.compute as pc

from torchworks.errors import ConfigError, DataError, did_you_mean
from torchworks.families.tabular.cells import FALSE_WORDS, TRUE_WORDS, categories
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
from torchworks.tasks.anomaly_detection.config import AnomalyConfig
from torchworks.tasks.protocol import PreparedData

NORMAL_NAMES = ("is_ok", "ok", "normal", "is_normal", "valid", "is_valid", "legit", "is_legit")
ANOMALY_WORDS = (*TRUE_WORDS, "1", "anomaly", "anomalous", "fraud", "outlier", "bad")
NO_LABEL = -1.0


@dataclass(kw_only=True)
class AnomalyData(PreparedData):
    """Prepared data plus the encoded rows and labels (1 anomaly, 0 normal, -1 unknown) of each split."""

    sampled: SampledTable
    encoded: dict[str, Encoded] = field(default_factory=dict)
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    column_rows: list[dict[str, Any]] = field(default_factory=list)


def prepare_anomaly_data(config: AnomalyConfig, state: dict[str, Any] | None = None) -> AnomalyData:
    """Read, split and encode ``config.data`` (with a bundle's ``state``: its columns, nothing fitted again).

    Raises:
        ConfigError: The label column is not in the table.
        DataError: The file cannot be read, a column of numbers holds text, or no column is left to read.
    """
    sampled = sample_table(config)
    label = state["label"] if state else config.label
    anomaly_value = state["anomaly_value"] if state else None
    labels = np.full(sampled.rows.num_rows, NO_LABEL, dtype=np.float32)
    if label is not None:
        labels, anomaly_value = _labels(sampled, label, config.anomaly_value if state is None else anomaly_value)
    from torchworks.splitting import assign_splits

    strata = [str(int(v)) for v in labels]
    splits = np.array(assign_splits(strata, [None] * len(strata), config.val_fraction, config.test_fraction,
                                    config.seed, noun="row", rare="train"))
    fitted = FittedColumns(state["columns"], state["dropped"], state["ids"], state["encoding"]) if state else \
        fit_columns(sampled, splits == "train", config, reserved=(label,) if label else (), time_line=False,
                    ratios=True)
    encoded = encode_rows(fitted.encoder(), sampled)
    state = state or {**fitted.state(), "label": label, "anomaly_value": anomaly_value,
                      "threshold": config.threshold, "contamination": config.contamination,
                      "top_features": config.top_features}
    parts = {name: Encoded(encoded.numeric[splits == name], encoded.categorical[splits == name])
             for name in ("train", "val", "test")}
    split_labels = {name: labels[splits == name] for name in parts}
    summary = _summary(sampled, fitted, parts, split_labels, label)
    return AnomalyData(train=EncodedRows(parts["train"], split_labels["train"]),
                       val=EncodedRows(parts["val"], split_labels["val"]),
                       test=EncodedRows(parts["test"], split_labels["test"]), state=state, summary=summary,
                       fingerprint=fingerprint(sampled), sampled=sampled, encoded=parts, labels=split_labels,
                       column_rows=column_table(fitted, sampled.rows.num_rows))


def _labels(sampled: SampledTable, label: str, anomaly_value: str | None) -> tuple[np.ndarray, str]:
    columns = sampled.rows.column_names
    if label not in columns:
        raise ConfigError(f"label column '{label}' is not in '{sampled.table.name}'", expected="one of: " +
                          ", ".join(columns[:30]), got=label, hint=did_you_mean(label, columns))
    text = pc.utf8_lower(categories(sampled.rows.column(label).combine_chunks()))
    present = sorted(set(pc.unique(text.drop_null()).to_pylist()))
    if anomaly_value is None:
        normal_named = label.lower() in NORMAL_NAMES
        words = (*FALSE_WORDS, "0") if normal_named else ANOMALY_WORDS
        found = [value for value in present if value in words]
        if len(present) != 2 or len(found) != 1:
            raise DataError(f"which value of label column '{label}' marks an anomaly?", expected="two values, one "
                            "of them true/1/yes/anomaly (or false/0 for a column named like is_ok)",
                            got=", ".join(repr(v) for v in present[:6]), hint="give anomaly_value=VALUE")
        anomaly_value = found[0]
    elif anomaly_value.lower() not in present:
        raise ConfigError(f"anomaly_value={anomaly_value} is not a value of label column '{label}'",
                          expected="one of: " + ", ".join(present[:10]), got=anomaly_value)
    flags = pc.equal(text, anomaly_value.lower())
    labels = np.where(text.is_null().to_numpy(zero_copy_only=False), NO_LABEL,
                      pc.fill_null(flags, False).to_numpy(zero_copy_only=False).astype(np.float32))
    return labels.astype(np.float32), anomaly_value.lower()


def _summary(sampled: SampledTable, fitted: FittedColumns, parts: dict[str, Encoded], labels: dict[str, np.ndarray],
             label: str | None) -> dict[str, Any]:
    summary = table_facts(sampled, fitted, {name: len(part) for name, part in parts.items()})
    if label is not None:
        summary["label"] = label
        summary["anomalies (labelled)"] = {name: int((values == 1).sum()) for name, values in labels.items()}
    return summary
