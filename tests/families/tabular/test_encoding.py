"""The encoding is fitted on training rows only and applied batch by batch: numbers robustly standardised
with a missing flag, categories indexed with unknown and missing buckets, datetimes in parts, and a cell
that does not fit named by its column and line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from torchworks.errors import DataError
from torchworks.families.tabular.columns import Overrides, infer_columns
from torchworks.families.tabular.encoding import MISSING, RESERVED, UNKNOWN, TableEncoder, fit_encoder
from torchworks.families.tabular.inputs import InlineRow, encoded_batches, open_input
from torchworks.families.tabular.reading import open_table, read_rows


@pytest.fixture
def fitted(tmp_path):
    frame = pd.DataFrame({
        "price": [10.0, 20.0, 30.0, 40.0, None] * 40, "city": ["Oslo", "Lima", "Oslo", "Rome", None] * 40,
        "when": pd.date_range("2026-03-02 08:00", periods=200, freq="5h").strftime("%Y-%m-%d %H:%M:%S")})
    frame.to_csv(tmp_path / "train.csv", index=False)
    table = open_table(tmp_path / "train.csv")
    rows = read_rows(table, 1000)[0]
    columns, _ = infer_columns(rows, table, Overrides())
    return fit_encoder(rows, columns, table), columns


def test_numbers_are_standardised_by_median_and_iqr_with_a_missing_flag(fitted):
    encoding, columns = fitted
    price = {f["name"]: f for f in encoding["numeric"]}
    assert price["price"]["center"] == 25.0 and price["price"]["scale"] == pytest.approx(15 / 1.349)
    assert "price (missing)" in price
    encoded = TableEncoder(encoding, columns).encode(pa.table({"price": ["25", None, "40"], "city": ["Oslo"] * 3,
                                                               "when": ["2026-03-02 08:00:00"] * 3}), None)
    names = [f["name"] for f in encoding["numeric"]]
    assert encoded.numeric[:, names.index("price")] == pytest.approx([0.0, 0.0, 15 * 1.349 / 15])
    assert encoded.numeric[:, names.index("price (missing)")].tolist() == [0.0, 1.0, 0.0]


def test_unseen_and_missing_categories_have_their_own_buckets_and_are_counted(fitted):
    encoding, columns = fitted
    encoder = TableEncoder(encoding, columns)
    city = [f for f in encoding["categorical"] if f["name"] == "city"][0]
    assert city["values"] == ["Oslo", "Lima", "Rome"]  # most frequent first
    batch = pa.table({"price": [1.0] * 4, "city": ["Oslo", "Paris", None, "Rome"], "when": ["2026-03-02"] * 4})
    codes = encoder.encode(batch, None).categorical[:, [f["name"] for f in encoding["categorical"]].index("city")]
    assert codes.tolist() == [RESERVED + 0, UNKNOWN, MISSING, RESERVED + 2]
    assert encoder.unseen == {"city": 1}


def test_datetimes_become_a_time_line_and_the_parts_that_vary(fitted):
    encoding, columns = fitted
    parts = {f["name"] for f in encoding["categorical"]}
    assert {"when.hour", "when.weekday"} <= parts  # 200 five-hour steps: hours and weekdays vary
    encoded = TableEncoder(encoding, columns).encode(pa.table({"price": [1.0], "city": ["Oslo"],
                                                              "when": ["2026-03-04 17:00:00"]}), None)
    names = [f["name"] for f in encoding["categorical"]]
    assert encoded.categorical[0, names.index("when.hour")] == RESERVED + 17
    assert encoded.categorical[0, names.index("when.weekday")] == RESERVED + 2  # a Wednesday


def test_text_in_a_numeric_column_at_prediction_names_the_line(tmp_path, fitted):
    encoding, columns = fitted
    (tmp_path / "new.csv").write_text("price,city,when\n12,Oslo,2026-03-02\nabc,Lima,2026-03-02\n")
    with pytest.raises(DataError, match="column 'price'.*line 3") as error:
        list(encoded_batches(open_table(tmp_path / "new.csv"), TableEncoder(encoding, columns), []))
    assert "'abc'" in error.value.render()


def test_a_table_without_a_column_the_model_reads_lists_every_missing_one(tmp_path, fitted):
    encoding, columns = fitted
    (tmp_path / "new.csv").write_text("city\nOslo\n")
    with pytest.raises(DataError, match="lacks columns the model reads: price and when"):
        list(encoded_batches(open_table(tmp_path / "new.csv"), TableEncoder(encoding, columns), []))


def test_inline_rows_and_ids_are_kept_with_their_rows(fitted):
    encoding, columns = fitted
    rows = [InlineRow({"price": 12, "city": "Oslo", "when": "2026-03-02", "ref": "x1"}),
            InlineRow({"price": None, "city": "Lima", "when": "2026-03-03", "ref": "x2"})]
    encoded, ids, _ = next(encoded_batches(open_input(rows), TableEncoder(encoding, columns), ["ref"], keep_cells=True))
    assert [row_id.ids for row_id in ids] == [{"ref": "x1"}, {"ref": "x2"}]
    assert ids[0].row == 1 and ids[1].name == "<request> row 2" and ids[1].cells["city"] == "Lima"
    assert np.isfinite(encoded.numeric).all()
