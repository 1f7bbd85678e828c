"""The anomaly-detection task end to end: a detector judged beside IsolationForest and HBOS on anomalies built
from a real scikit-learn dataset, thresholds changed at prediction time, the most anomalous rows explained,
streamed predictions from the command line, and bad inputs refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import torchworks


@pytest.fixture(scope="module")
def tumours(tmp_path_factory):
    """Breast-cancer data as anomaly benchmarks build it: benign tumours are normal, a 5% sample of the malignant
    ones are the anomalies."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    rng = np.random.default_rng(0)
    benign, malignant = frame[frame.target == 1], frame[frame.target == 0]
    chosen = malignant.sample(n=round(0.05 * len(benign) / 0.95), random_state=0)
    table = pd.concat([benign, chosen]).sample(frac=1.0, random_state=int(rng.integers(1000)))
    path = tmp_path_factory.mktemp("tumours") / "tumours.csv"
    table.assign(malignant=(table.target == 0).astype(int)).drop(columns="target").to_csv(path, index=False)
    return path


def test_the_detector_is_judged_beside_isolation_forest_and_hbos(tumours, tmp_path):
    result = torchworks.train("anomaly-detection", data=str(tumours), label="malignant", output=str(tmp_path),
                              mlflow=False, progress=False)
    metrics = result.metrics
    assert metrics["auroc"] > 0.85 and metrics["average_precision"] > 0.3, metrics
    for name in ("zscore", "isolation_forest", "hbos", "ecod"):
        assert 0.5 < metrics["baselines"][name]["auroc"] <= 1.0
    assert (result.path / "plots" / "scores.png").is_file()


def test_thresholds_change_at_prediction_time_without_retraining(anomaly_run, ticket_sales):
    predictor = torchworks.load(anomaly_run)
    auto = pd.DataFrame(predictor.predict(str(ticket_sales)))
    share = pd.DataFrame(predictor.predict(str(ticket_sales), contamination=0.1))
    fixed = pd.DataFrame(predictor.predict(str(ticket_sales), threshold=str(auto.anomaly_score.max() + 1)))
    assert (auto.anomaly_score == share.anomaly_score).all()
    assert share.is_anomaly.mean() == pytest.approx(0.1, abs=0.04) and not fixed.is_anomaly.any()
    truth = pd.read_parquet(ticket_sales).is_anomaly.to_numpy()
    assert auto.is_anomaly[truth].mean() > auto.is_anomaly[~truth].mean()  # flags anomalies more often


def test_the_top_rows_are_explained_and_each_explanation_adds_up(anomaly_run, ticket_sales):
    predictor = torchworks.load(anomaly_run)
    scores = pd.DataFrame(predictor.predict(str(ticket_sales))).anomaly_score.to_numpy()
    explanations = predictor.explain(str(ticket_sales), rows="top:3")
    assert [e.record["prediction"]["anomaly_score"] for e in explanations] == \
        pytest.approx(sorted(scores, reverse=True)[:3], rel=1e-4)
    for explanation in explanations:
        attributions = explanation.record["attributions"]
        total = sum(column["attribution"] for column in attributions["columns"])
        assert total == pytest.approx(attributions["output"], rel=1e-3) and attributions["base_value"] == 0
    (shap,) = predictor.explain(str(ticket_sales), method="shap", rows="7", samples="64")
    assert shap.record["attributions"]["columns"] and shap.figures["waterfall"][:4] == b"\x89PNG"


def test_predict_streams_a_table_from_the_command_line(cli, anomaly_run, ticket_sales, tmp_path):
    code, out, err = cli("predict", str(anomaly_run), str(ticket_sales), "--output", str(tmp_path / "scores.parquet"))
    assert code == 0 and out.strip().splitlines()[-1] == f"predictions: {tmp_path / 'scores.parquet'} (3,000 rows)"
    assert "rows per second" in err
    assert len(pd.read_parquet(tmp_path / "scores.parquet")) == 3000


def test_a_predict_file_without_price_is_one_line_exit_2(cli, anomaly_run, ticket_sales, tmp_path):
    pd.read_parquet(ticket_sales).drop(columns="price").to_parquet(tmp_path / "no_price.parquet")
    code, _, err = cli("predict", str(anomaly_run), str(tmp_path / "no_price.parquet"), "--output",
                       str(tmp_path / "scores.parquet"))
    assert code == 2 and "lacks a column the model reads: price" in err and "Traceback" not in err
    assert not (tmp_path / "scores.parquet").exists()


def test_the_report_records_the_threshold_and_its_choice(anomaly_run):
    bundle = json.loads((anomaly_run / "bundle.json").read_text())
    state = bundle["state"]
    assert state["threshold"] == "auto" and state["decision_threshold"] > state["score_quantiles"][75]
    numeric = len(state["encoding"]["numeric"])
    assert len(state["feature_scale"]) == numeric + len(state["encoding"]["categorical"])
    assert min(state["feature_scale"][numeric:]) >= 3.0  # a category counts in units of at least 3 nats


def test_labels_offer_the_supervised_model_when_a_baseline_wins():
    from torchworks.tasks.anomaly_detection.config import AnomalyConfig
    from torchworks.tasks.anomaly_detection.task import AnomalyDetection

    task = AnomalyDetection()
    labelled = task.baseline_advice(AnomalyConfig(data="sales.parquet", label="is_ok", drop="is_anomaly,anomaly_kind"))
    assert labelled[-1] == ("the supervised model (torchworks train tabular data=sales.parquet target=is_ok "
                            "drop=is_anomaly,anomaly_kind class_weights=auto)")
    assert not any("tabular" in line for line in task.baseline_advice(AnomalyConfig(data="sales.parquet")))
