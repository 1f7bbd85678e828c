"""A partitioned dataset scored on a local Dask cluster of two worker processes gives the very scores, row
numbers and ids of the single-process scan, one Parquet part per partition."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

import torchworks
from torchworks.engine.distributed import predict_on_cluster
from torchworks.engine.prediction_stream import stream_predictions
from torchworks.errors import ConfigError, OutputError


@pytest.fixture(scope="module")
def partitioned(tmp_path_factory, ticket_sales):
    folder = tmp_path_factory.mktemp("partitioned") / "sales"
    folder.mkdir()
    table = pq.read_table(ticket_sales)
    for index, start in enumerate((0, 1100, 2300)):
        pq.write_table(table.slice(start, {0: 1100, 1: 1200, 2: 700}[index]), folder / f"part-{index}.parquet")
    return folder


def test_two_local_workers_score_exactly_as_one_process(tmp_path, anomaly_run, ticket_sales, partitioned):
    result = predict_on_cluster(anomaly_run, str(partitioned), tmp_path / "scores", "local:2")
    assert result.rows == 3000 and result.partitions == 3 and "local:2" in result.summary()
    spread = pd.read_parquet(tmp_path / "scores")
    predictor = torchworks.load(anomaly_run)
    single = pd.read_parquet(stream_predictions(predictor.task, predictor.model, predictor.bundle.state,
                                                [str(ticket_sales)], tmp_path / "one.parquet", 512,
                                                progress=False).output)
    assert spread["row"].tolist() == single["row"].tolist() == list(range(1, 3001))
    assert spread["order_id"].tolist() == single["order_id"].tolist()
    assert (spread["anomaly_score"].to_numpy() == single["anomaly_score"].to_numpy()).all()
    assert (spread["top_features"] == single["top_features"]).all()


def test_a_bad_cluster_and_an_existing_output_are_refused(tmp_path, anomaly_run, partitioned):
    with pytest.raises(ConfigError, match="not a local cluster size"):
        predict_on_cluster(anomaly_run, str(partitioned), tmp_path / "scores", "local:two")
    with pytest.raises(ConfigError, match="neither local:N nor a scheduler address"):
        predict_on_cluster(anomaly_run, str(partitioned), tmp_path / "scores", "10.0.0.5")
    (tmp_path / "taken").mkdir()
    with pytest.raises(OutputError, match="already exists"):
        predict_on_cluster(anomaly_run, str(partitioned), tmp_path / "taken", "local:1")
