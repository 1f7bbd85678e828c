"""A forecaster behind the server: rows as JSON (typed by the training columns) or a CSV upload."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import torchworks
from torchworks.server.startup import load_models
from torchworks.server.app import build_app
from torchworks.server.settings import ServeSettings


@pytest.fixture(scope="module")
def sales(tmp_path_factory):
    root = tmp_path_factory.mktemp("sales")
    steps = np.arange(100)
    frame = pd.concat([pd.DataFrame({"week": pd.date_range("2020-01-04", periods=100, freq="W-SAT"), "store": store,
                                     "sales": level + 5 * np.sin(steps / 2) + 0.1 * steps})
                       for store, level in (("north", 50), ("south", 60))])
    frame.to_csv(root / "sales.csv", index=False)
    run = torchworks.train("forecasting", data=str(root / "sales.csv"), output=str(root / "runs"), time="week",
                           target="sales", series_id="store", lookback=8, horizon=3, model="gru", hidden=8,
                           quantiles="0.1,0.5,0.9", epochs=2, batch_size=16, mlflow=False, progress=False)
    return run.path, frame


@pytest.fixture
def client(sales):
    settings = ServeSettings(max_wait_ms=1.0)
    models, metrics = load_models([f"sales={sales[0]}"], settings)
    with TestClient(build_app(models, settings, metrics), base_url="http://127.0.0.1:8080") as test_client:
        yield test_client


def _rows(frame: pd.DataFrame) -> list[dict]:
    recent = frame.groupby("store").tail(10).copy()
    recent["week"] = recent["week"].dt.strftime("%Y-%m-%d")
    return recent.to_dict(orient="records")


def test_rows_as_json_give_typed_forecasts_per_series_and_step(client, sales):
    response = client.post("/v1/models/sales/predict", json={"inputs": [_rows(sales[1])]})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == 6 and {p["store"] for p in predictions} == {"north", "south"}
    assert {"week", "step", "forecast", "q0.1", "q0.9"} <= set(predictions[0])
    assert all(p["q0.1"] <= p["forecast"] <= p["q0.9"] for p in predictions)
    north = [p for p in predictions if p["store"] == "north"]
    last = sales[1][sales[1].store == "north"].week.max()
    assert [p["step"] for p in north] == [1, 2, 3]
    assert [p["week"] for p in north] == [str((last + pd.Timedelta(weeks=k)).date()) for k in (1, 2, 3)]
    # the same numbers as the Python API gives for the same rows
    expected = torchworks.load(sales[0]).predict(sales[1].groupby("store").tail(10))
    key = lambda p: (p["store"], p["step"])  # noqa: E731
    assert sorted(map(key, predictions)) == sorted(map(key, expected))
    by_key = {key(p): p for p in expected}
    for prediction in predictions:
        for column in ("forecast", "q0.1", "q0.9"):
            assert prediction[column] == pytest.approx(by_key[key(prediction)][column], abs=1e-4), column


def test_a_csv_upload_gives_the_same_forecasts(client, sales):
    rows = _rows(sales[1])
    as_json = client.post("/v1/models/sales/predict", json={"inputs": [rows]}).json()["predictions"]
    upload = pd.DataFrame(rows).to_csv(index=False).encode()
    as_file = client.post("/v1/models/sales/predict", files={"file": ("recent.csv", upload, "text/csv")})
    assert [p["forecast"] for p in as_file.json()["predictions"]] == [p["forecast"] for p in as_json]


def test_an_upload_with_other_column_names_is_mapped_by_the_request_options(client, sales):
    rows = _rows(sales[1])
    as_json = client.post("/v1/models/sales/predict", json={"inputs": [rows]}).json()["predictions"]
    shouted = pd.DataFrame(rows).rename(columns=str.upper).to_csv(index=False).encode()  # WEEK, STORE, SALES
    response = client.post("/v1/models/sales/predict", files={"file": ("recent.csv", shouted, "text/csv")})
    assert response.status_code == 200, response.text
    assert [p["forecast"] for p in response.json()["predictions"]] == [p["forecast"] for p in as_json]

    renamed = pd.DataFrame(rows).rename(columns={"week": "date", "store": "shop", "sales": "units"})
    upload = {"file": ("recent.csv", renamed.to_csv(index=False).encode(), "text/csv")}
    refused = client.post("/v1/models/sales/predict", files=upload)
    assert refused.status_code == 422 and "time=COLUMN" in refused.json()["hint"]
    mapping = json.dumps({"time": "date", "target": "units", "series_id": "shop"})
    response = client.post("/v1/models/sales/predict", files=upload, data={"options": mapping})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert [p["forecast"] for p in predictions] == [p["forecast"] for p in as_json]
    assert {"week", "store"} <= set(predictions[0])  # forecasts keep the model's column names
    assert client.get("/v1/models/sales").json()["options"] == ["time", "target", "covariates", "series_id"]


@pytest.mark.parametrize(("mutate", "status"), [
    (lambda rows: [{**r, "sales": "NaN"} if i == 3 else r for i, r in enumerate(rows)], 422),
    (lambda rows: [{k: v for k, v in r.items() if k != "sales"} for r in rows], 422),
    (lambda rows: [{**r, "sales_typo": 1.0} for r in rows], 422),
    (lambda rows: rows[:3], 422),  # shorter than the lookback
    (lambda rows: [{**r, "store": "west"} for r in rows], 422),  # a series the model never saw
])
def test_bad_rows_are_4xx(client, sales, mutate, status):
    response = client.post("/v1/models/sales/predict", json={"inputs": [mutate(_rows(sales[1]))]})
    assert response.status_code == status, response.text
    assert {"error", "message", "hint"} <= set(response.json())


def test_nan_literal_in_the_body_is_400(client):
    body = b'{"inputs": [[{"store": "north", "week": "2021-01-02", "sales": NaN}]]}'
    assert client.post("/v1/models/sales/predict", content=body,
                       headers={"content-type": "application/json"}).status_code == 400
