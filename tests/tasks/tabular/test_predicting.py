"""Tabular predictions streamed a batch at a time into a file: the same rows, in order, as the records."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
import torch

import torchworks
from torchworks.engine.prediction_stream import stream_predictions
from torchworks.families.tabular import streaming
from torchworks.families.tabular.inputs import RowId
from torchworks.families.tabular.streaming import BatchRows
from torchworks.tasks.tabular.predicting import tabular_records, tabular_table


def test_a_streamed_regression_equals_the_records_row_for_row(tabular_run, tmp_path, monkeypatch):
    monkeypatch.setattr(streaming, "STREAM_BATCH_ROWS", 70)  # several batches, the last one short
    houses = tabular_run.parent.parent.parent / "houses.csv"
    predictor = torchworks.load(tabular_run)
    result = stream_predictions(predictor.task, predictor.model, predictor.bundle.state, [str(houses)],
                                tmp_path / "prices.parquet", 64, progress=False)
    streamed = pd.read_parquet(result.output)
    records = pd.DataFrame(predictor.predict(str(houses)))
    assert result.rows == 300 and list(streamed.columns) == ["input", "row", "house", "prediction"]
    assert streamed["row"].tolist() == list(range(1, 301))
    assert streamed["house"].tolist() == records["house"].tolist() == pd.read_csv(houses)["house"].tolist()
    assert streamed["prediction"].to_numpy() == pytest.approx(records["prediction"].to_numpy(), rel=1e-5)


def test_a_streamed_classification_batch_has_the_records_columns_and_the_threshold_in_force():
    state = {"task_type": "classification", "labels": ["no", "yes"], "positive": "yes", "threshold": "0.2"}
    outputs = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 3.0]])  # P(yes) 0.5, 0.12, 0.95
    table = tabular_table(outputs, BatchRows("loans.csv", 40, {"id": pa.array(["a", "b", "c"])}), state)
    records = tabular_records(outputs, [RowId("loans.csv", 41 + i, {"id": k}) for i, k in enumerate("abc")], state, 2)
    assert table.column_names == ["input", "row", "id", "prediction", "probability", "p_no", "p_yes"]
    assert table.column("row").to_pylist() == [41, 42, 43]
    assert table.column("prediction").to_pylist() == [r["prediction"] for r in records] == ["yes", "no", "yes"]
    assert table.column("probability").to_pylist() == [r["probability"] for r in records]
    assert table.column("p_yes").to_pylist() == [r["probabilities"]["yes"] for r in records]
