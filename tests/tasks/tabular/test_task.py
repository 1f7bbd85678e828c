"""The tabular task end to end: the default model against gradient boosting on scikit-learn's breast-cancer
data, regression in the target's units, predictions joined back by id, explanations, and bad inputs refused
in one line with exit code 2."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

import torchworks


def test_the_default_model_is_within_a_point_of_gradient_boosting_on_breast_cancer(tmp_path):
    result = torchworks.train("tabular", data="breast-cancer", output=str(tmp_path), mlflow=False, progress=False)
    metrics = result.metrics
    boosting = metrics["baselines"]["hist_gradient_boosting"]
    assert metrics["accuracy"] >= boosting["accuracy"] - 0.01, (metrics["accuracy"], boosting["accuracy"])
    assert metrics["auroc"] > 0.98 and metrics["log_loss"] < 0.3
    assert set(boosting) >= {"accuracy", "macro_f1", "auroc", "average_precision", "log_loss"}
    assert "logistic_regression" in metrics["baselines"]
    bundle = json.loads((result.path / "bundle.json").read_text())
    assert bundle["state"]["positive"] == "malignant"  # the rarer class
    assert bundle["state"]["importance"][0]["importance"] > 0


def test_regression_predicts_in_the_targets_units_and_keeps_ids(tabular_run, tmp_path):
    metrics = json.loads((tabular_run / "metrics.json").read_text())
    assert {"rmse", "mae", "r2"} <= set(metrics) and metrics["r2"] > 0.5
    assert {"rmse", "mae", "r2"} <= set(metrics["baselines"]["linear_regression"])
    rows = pd.DataFrame({"house": ["X1", "X2"], "area": [50.0, 150.0], "rooms": [2, 5], "district": ["north", "moon"],
                         "sold": ["2025-06-01", "2025-06-02"]})
    records = torchworks.load(tabular_run).predict(rows)
    assert [r["house"] for r in records] == ["X1", "X2"] and [r["row"] for r in records] == [1, 2]
    assert 50_000 < records[0]["prediction"] < records[1]["prediction"] < 600_000


def test_explanations_name_the_columns_that_set_the_price(tabular_run, tmp_path):
    rows = tmp_path / "two.csv"
    pd.DataFrame({"house": ["A", "B"], "area": [40.0, 190.0], "rooms": [2, 6], "district": ["north", "centre"],
                  "sold": ["2025-06-01", "2025-06-02"]}).to_csv(rows, index=False)
    for method in ("shap", "lime"):
        (explanation, _) = torchworks.load(tabular_run).explain(str(rows), method=method)
        columns = explanation.record["attributions"]["columns"]
        assert columns[0]["column"] == "area" and explanation.figures["waterfall"][:4] == b"\x89PNG"


def test_an_explain_run_opens_with_global_importance_beside_permutation_importance(tabular_run, tmp_path):
    from torchworks.engine.explain import explain

    rows = tmp_path / "four.csv"
    pd.DataFrame({"house": list("ABCD"), "area": [40.0, 190.0, 90.0, 120.0], "rooms": [2, 6, 3, 4],
                  "district": ["north", "centre", "south", "centre"],
                  "sold": ["2025-06-01"] * 4}).to_csv(rows, index=False)
    result = explain(tabular_run, [str(rows)], method="shap", output=tmp_path / "why", options={"rows": "0:3"},
                     progress=False)
    document = json.loads((result.path / "explanations.json").read_text())
    overview = document["overview"]
    assert len(document["explanations"]) == 3 and overview["input"] == "3 rows"
    ranked = overview["global_importance"]
    assert ranked[0]["column"] == "area" and ranked[0]["rows"] == 3
    assert ranked == sorted(ranked, key=lambda entry: -entry["importance"])
    mean_area = sum(abs(next(c["attribution"] for c in record["attributions"]["columns"] if c["column"] == "area"))
                    for record in document["explanations"]) / 3
    assert ranked[0]["importance"] == pytest.approx(mean_area, rel=1e-3)
    assert overview["permutation_importance"][0]["column"] == "area"
    assert [(result.path / name).read_bytes()[:4] for name in overview["figures"]] == [b"\x89PNG"] * 2
    page = (result.path / "explanation.html").read_text()
    assert page.index("Across the 3 explained rows, area") < page.index("1. ")


@pytest.fixture
def houses_csv(tmp_path, tabular_run):
    return shutil.copy(tabular_run.parent.parent.parent / "houses.csv", tmp_path / "houses.csv")


def test_a_predict_file_without_a_training_column_is_one_line_exit_2(cli, tabular_run, tmp_path):
    (tmp_path / "new.csv").write_text("house,rooms,district,sold\nA,2,north,2025-01-01\n")
    code, out, err = cli("predict", str(tabular_run), str(tmp_path / "new.csv"), "bad_files=fail")
    assert code == 2 and "lacks a column the model reads: area" in err and "Traceback" not in err


def test_text_in_a_numeric_column_names_the_column_and_line(cli, tabular_run, tmp_path):
    (tmp_path / "new.csv").write_text("house,area,rooms,district,sold\nA,55,2,north,2025-01-01\nB,big,3,south,"
                                      "2025-01-02\n")
    code, _, err = cli("predict", str(tabular_run), str(tmp_path / "new.csv"), "bad_files=fail")
    assert code == 2 and "column 'area'" in err and "line 3" in err and "'big'" in err


@pytest.mark.parametrize("problem", ["one class", "empty parquet", "csv as parquet"])
def test_bad_training_files_are_one_line_exit_2(cli, houses_csv, tmp_path, problem):
    frame = pd.read_csv(houses_csv)
    if problem == "one class":
        frame.assign(sold_out="yes").to_csv(tmp_path / "t.csv", index=False)
        args, expected = [f"data={tmp_path / 't.csv'}", "target=sold_out"], "has one class"
    elif problem == "empty parquet":
        (tmp_path / "t.parquet").write_bytes(b"")
        args, expected = [f"data={tmp_path / 't.parquet'}", "target=price"], "is empty"
    else:
        frame.to_csv(tmp_path / "t.parquet", index=False)
        args, expected = [f"data={tmp_path / 't.parquet'}", "target=price"], "is not a Parquet file"
    code, _, err = cli("train", "tabular", *args, f"output={tmp_path / 'runs'}", "mlflow=false")
    lines = [line for line in err.strip().splitlines() if line.startswith("error")]
    assert code == 2 and len(lines) == 1 and expected in lines[0], err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("bundle.json"))
