"""Streamed predictions: a task that reads tables a batch at a time writes every row in order straight into
the output file, the same rows the record path gives; a bad row midway leaves nothing behind."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import torchworks
from torchworks.engine.prediction_stream import stream_predictions
from torchworks.errors import DataError
from torchworks.families.tabular import streaming


def test_a_streamed_scan_equals_the_records_row_for_row(tmp_path, anomaly_run, ticket_sales, monkeypatch):
    monkeypatch.setattr(streaming, "STREAM_BATCH_ROWS", 700)  # several batches, the last one short
    predictor = torchworks.load(anomaly_run)
    result = stream_predictions(predictor.task, predictor.model, predictor.bundle.state, [str(ticket_sales)],
                                tmp_path / "scores.parquet", 512, progress=False)
    assert result.rows == 3000 and "3,000 rows" in result.summary()
    streamed = pd.read_parquet(result.output)
    records = pd.DataFrame(predictor.predict(str(ticket_sales)))
    assert list(streamed.columns) == ["input", "row", "order_id", "anomaly_score", "is_anomaly", "top_features"]
    assert streamed["row"].tolist() == list(range(1, 3001))
    assert streamed["order_id"].tolist() == pq.read_table(ticket_sales).column("order_id").to_pylist()
    assert streamed["anomaly_score"].to_numpy() == pytest.approx(records["anomaly_score"].to_numpy(), rel=1e-5)
    assert (streamed["is_anomaly"] == records["is_anomaly"]).all()
    assert (streamed["top_features"] == records["top_features"]).all()


def test_csv_output_streams_too(tmp_path, anomaly_run, ticket_sales):
    predictor = torchworks.load(anomaly_run)
    result = stream_predictions(predictor.task, predictor.model, predictor.bundle.state, [str(ticket_sales)],
                                tmp_path / "scores.csv", 512, progress=False)
    assert len(pd.read_csv(result.output)) == 3000


def test_a_bad_cell_midway_leaves_nothing_at_the_output(tmp_path, anomaly_run, ticket_sales, monkeypatch):
    monkeypatch.setattr(streaming, "STREAM_BATCH_ROWS", 500)
    table = pq.read_table(ticket_sales)
    prices = table.column("price").to_pylist()
    broken = table.set_column(table.schema.get_field_index("price"), "price",
                              pa.array([str(p) for p in prices[:2500]] + ["n/a?"] + [str(p) for p in prices[2501:]]))
    pq.write_table(broken, tmp_path / "broken.parquet")
    predictor = torchworks.load(anomaly_run)
    with pytest.raises(DataError, match="column 'price'.*row 2501"):
        stream_predictions(predictor.task, predictor.model, predictor.bundle.state, [str(tmp_path / "broken.parquet")],
                           tmp_path / "scores.parquet", 512, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.parquet"]


def test_a_task_that_does_not_stream_goes_through_records(tmp_path, anomaly_run):
    predictor = torchworks.load(anomaly_run)
    assert stream_predictions(predictor.task, predictor.model, predictor.bundle.state, [str(tmp_path / "x.csv")],
                              tmp_path / "scores.json", 512, progress=False) is None
