"""Tables stream as record batches in file order, bounded samples are uniform and ordered, and files that are
not what they claim are refused before any batch is read."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from torchworks.errors import DataError
from torchworks.families.tabular.reading import column_names, open_table, read_rows, record_batches
from torchworks.uploads import Upload


@pytest.fixture
def frame():
    return pd.DataFrame({"id": np.arange(1000), "price": np.linspace(1, 100, 1000).round(2),
                         "city": np.where(np.arange(1000) % 3 == 0, "Oslo", "Lima")})


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".jsonl"])
def test_every_format_streams_all_rows_in_order(tmp_path, frame, suffix):
    path = tmp_path / f"t{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_json(path, orient="records", lines=True)
    table = open_table(path)
    assert column_names(table) == ["id", "price", "city"]
    batches = list(record_batches(table, batch_rows=128))
    assert all(batch.num_rows <= 128 for batch in batches) and len(batches) >= 8
    ids = np.concatenate([np.asarray(batch.column("id").to_pylist(), dtype=float) for batch in batches])
    assert (ids == np.arange(1000)).all()
    if suffix in (".csv", ".tsv"):  # text cells stay text: the encoders convert and name bad cells
        assert batches[0].schema.field("price").type == pa.string()
    assert (table.rows() == 1000) if suffix == ".parquet" else table.rows() is None


def test_a_bounded_sample_is_in_file_order_and_spread_over_the_file(tmp_path, frame):
    frame.to_csv(tmp_path / "t.csv", index=False)
    rows, numbers, total = read_rows(open_table(tmp_path / "t.csv"), 100, seed=1, batch_rows=64)
    assert total == 1000 and rows.num_rows == 100 and len(numbers) == 100
    assert (np.diff(numbers) > 0).all() and numbers.max() > 800 and numbers.min() < 200
    assert [int(v) for v in rows.column("id").to_pylist()] == numbers.tolist()
    again = read_rows(open_table(tmp_path / "t.csv"), 100, seed=1, batch_rows=64)[1]
    assert (again == numbers).all()


def test_rows_are_named_as_the_user_sees_them(tmp_path, frame):
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    assert open_table(tmp_path / "t.csv").row_name(0) == "line 2"
    assert open_table(tmp_path / "t.parquet").row_name(0) == "row 1"


def test_an_empty_parquet_file_is_refused(tmp_path):
    (tmp_path / "empty.parquet").write_bytes(b"")
    with pytest.raises(DataError, match="empty") as error:
        open_table(tmp_path / "empty.parquet")
    assert "0 bytes" in error.value.render()


def test_a_csv_saved_as_parquet_is_refused_with_its_first_line(tmp_path, frame):
    frame.to_csv(tmp_path / "sales.parquet", index=False)
    with pytest.raises(DataError, match="is not a Parquet file") as error:
        open_table(tmp_path / "sales.parquet")
    assert "id,price,city" in error.value.render() and "rename it to .csv" in error.value.hint


def test_a_header_without_rows_and_a_folder_are_refused(tmp_path):
    (tmp_path / "head.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="no data rows"):
        read_rows(open_table(tmp_path / "head.csv"), 10)
    with pytest.raises(DataError, match="is a folder"):
        open_table(tmp_path)


def test_uploads_and_dataframes_read_like_files(frame):
    upload = Upload("rows.csv", frame.to_csv(index=False).encode())
    assert sum(batch.num_rows for batch in record_batches(open_table(upload))) == 1000
    assert open_table(frame).rows() == 1000


def test_a_broken_parquet_file_is_a_data_error(tmp_path, frame):
    pq.write_table(pa.Table.from_pandas(frame), tmp_path / "t.parquet")
    data = (tmp_path / "t.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cannot be read as Parquet"):
        list(record_batches(open_table(tmp_path / "cut.parquet")))
