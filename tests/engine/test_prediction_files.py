"""Prediction files: records flattened into plain CSV columns, errors in the last column, JSON as is."""

from __future__ import annotations

import csv
import json

from torchworks.engine.prediction_files import flat_record, write_predictions

TEXT = {"input": "late parcel", "source": "inbox.csv", "row": 2, "label": "delivery", "probability": 0.9,
        "top_k": [{"label": "delivery", "probability": 0.9}, {"label": "billing", "probability": 0.1}],
        "probabilities": {"delivery": 0.9, "billing": 0.1}}
IMAGE = {"input": "a.png", "label": "cat", "probability": 0.7,
         "top_k": [{"label": "cat", "probability": 0.7}, {"label": "dog", "probability": 0.3}]}


def test_records_flatten_into_plain_columns():
    assert flat_record(TEXT) == {"input": "late parcel", "source": "inbox.csv", "row": 2, "label": "delivery",
                                 "probability": 0.9, "p_delivery": 0.9, "p_billing": 0.1}
    assert flat_record(IMAGE) == {"input": "a.png", "label": "cat", "probability": 0.7, "top_k_1_label": "cat",
                                  "top_k_1_probability": 0.7, "top_k_2_label": "dog", "top_k_2_probability": 0.3}
    assert flat_record({"input": "t", "labels": ["a", "b"], "spans": [[1, 2]]}) == {
        "input": "t", "labels": "a;b", "spans": "[[1, 2]]"}
    assert flat_record({"input": "x", "box": {"x": 1, "y": 2}}) == {"input": "x", "box_x": 1, "box_y": 2}


def test_csv_has_plain_columns_and_the_error_column_last_and_json_stays_nested(tmp_path):
    records = [{"input": "bad.csv", "error": "cannot read 'bad.csv': got garbage"}, TEXT]
    write_predictions(records, tmp_path / "p.csv")
    with (tmp_path / "p.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["input", "source", "row", "label", "probability", "p_delivery", "p_billing", "error"]
    assert rows[0]["label"] == "" and rows[0]["error"].startswith("cannot read")
    assert rows[1]["row"] == "2" and rows[1]["p_billing"] == "0.1" and rows[1]["error"] == ""
    assert "{" not in (tmp_path / "p.csv").read_text(), "no JSON inside cells"
    write_predictions(records, tmp_path / "p.json")
    assert json.loads((tmp_path / "p.json").read_text()) == records
