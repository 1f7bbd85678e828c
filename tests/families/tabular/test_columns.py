"""Column kinds are inferred from values, declared kinds win, and useless columns are left out with why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from torchworks.errors import ConfigError, DataError
from torchworks.families.tabular.columns import Overrides, infer_columns
from torchworks.families.tabular.reading import open_table, read_rows


def _infer(tmp_path, frame, overrides=Overrides(), reserved=()):
    frame.to_csv(tmp_path / "t.csv", index=False)
    table = open_table(tmp_path / "t.csv")
    rows = read_rows(table, 10_000)[0]
    return infer_columns(rows, table, overrides, reserved)


@pytest.fixture
def frame():
    n = 60
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)], "age": rng.integers(18, 90, n),
        "zip": rng.choice(["0150", "0151", "5003"], n), "member": rng.choice(["yes", "no"], n),
        "joined": pd.date_range("2025-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
        "note": [f"called about the invoice number {i} and asked for a refund" for i in range(n)],
        "empty": [None] * n, "country": ["NO"] * n, "target": rng.integers(0, 2, n)})


def test_kinds_are_inferred_and_useless_columns_left_out_with_why(tmp_path, frame):
    inputs, dropped = _infer(tmp_path, frame, reserved=("target",))
    kinds = {c["name"]: c["kind"] for c in inputs}
    assert kinds == {"age": "numeric", "zip": "categorical", "member": "boolean", "joined": "datetime", "note": "text"}
    reasons = {d["name"]: d["reason"] for d in dropped}
    assert reasons["empty"] == "entirely empty" and reasons["country"].startswith("constant")
    assert reasons["customer_id"].startswith("id-like") and "target" not in reasons


def test_declared_kinds_win_and_ids_are_set_aside(tmp_path, frame):
    overrides = Overrides(categorical=["zip", "age"], drop=["note"], id=["customer_id"])
    inputs, dropped = _infer(tmp_path, frame, overrides, reserved=("target",))
    kinds = {c["name"]: c["kind"] for c in inputs}
    assert kinds["zip"] == "categorical" and kinds["age"] == "categorical" and "note" not in kinds
    assert {"name": "customer_id", "reason": "an id (id=)"} in dropped


def test_a_declared_column_that_does_not_exist_is_a_config_error(tmp_path, frame):
    with pytest.raises(ConfigError, match="names no column") as error:
        _infer(tmp_path, frame, Overrides(categorical=["zipcode"]))
    assert "zip" in error.value.hint


def test_text_in_a_column_of_numbers_names_the_column_and_the_text(tmp_path):
    frame = pd.DataFrame({"price": [str(v) for v in range(40)] + ["twelve"], "y": [0, 1] * 20 + [0]})
    with pytest.raises(DataError, match="column 'price'") as error:
        _infer(tmp_path, frame)
    assert "'twelve'" in error.value.render() and "categorical=price" in error.value.hint


def test_parquet_types_are_read_as_stored(tmp_path):
    table = pa.table({"when": pa.array([1_700_000_000 + i for i in range(30)], pa.timestamp("s")),
                      "flag": pa.array([True, False] * 15), "level": pa.array(["a", "b", "c"] * 10).dictionary_encode(),
                      "amount": pa.array(np.arange(30) / 3)})
    import pyarrow.parquet as pq

    pq.write_table(table, tmp_path / "t.parquet")
    source = open_table(tmp_path / "t.parquet")
    inputs, _ = infer_columns(read_rows(source, 100)[0], source, Overrides())
    assert {c["name"]: c["kind"] for c in inputs} == {"when": "datetime", "flag": "boolean", "level": "categorical",
                                                      "amount": "numeric"}
