"""Interactions of another shape (Parquet events, dates, click counts, other column names) train, evaluate and
serve; the REST answers for known users, new users and similar items, and RELIABILITY.md C1 over HTTP."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import torchworks
from torchworks.server.app import build_app
from torchworks.server.settings import ServeSettings
from torchworks.server.startup import load_models

PREDICT = "/v1/models/shop/predict"


def write_events(path):
    """90 visitors in three groups, each clicking products of its own group (30 each) over two weeks."""
    rng = np.random.default_rng(0)
    rows = []
    for visitor in range(90):
        group = visitor % 3
        for step, product in enumerate(rng.choice(30, size=12, replace=False)):
            rows.append({"visitor": f"v{visitor:03d}", "product": f"p{group}-{product:02d}",
                         "event_time": pd.Timestamp("2026-03-01") + pd.Timedelta(hours=int(visitor * 3 + step * 24)),
                         "clicks": int(rng.integers(1, 4))})
    pd.DataFrame(rows).to_parquet(path)
    return path


@pytest.fixture(scope="module")
def shop_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("other-shape")
    data = write_events(root / "events.parquet")
    result = torchworks.train("recommendation", data=str(data), user="visitor", item="product", time="event_time",
                              weight="clicks", factors=8, epochs=8, lr=0.05, output=str(root / "runs"), name="shop",
                              mlflow=False, progress=False)
    return result


@pytest.fixture(scope="module")
def client(shop_run):
    settings = ServeSettings(max_wait_ms=1.0)
    models, metrics = load_models([f"shop={shop_run.path}"], settings)
    with TestClient(build_app(models, settings, metrics), base_url="http://127.0.0.1:8080") as test_client:
        yield test_client


def group(item: str) -> str:
    return item.split("-")[0]


def test_another_shape_trains_evaluates_and_beats_popularity(shop_run):
    metrics = shop_run.metrics
    assert metrics["users"] == 90 and metrics["ndcg@10"] > metrics["baselines"]["popularity"]["ndcg@10"]
    again = torchworks.evaluate(shop_run.path)
    assert again.metrics["ndcg@10"] == pytest.approx(metrics["ndcg@10"])
    config = json.loads((shop_run.path / "bundle.json").read_text())["config"]
    assert (config["user"], config["item"], config["time"], config["weight"]) == ("visitor", "product", "event_time",
                                                                                 "clicks")


def test_a_known_user_gets_their_groups_unseen_products(client, shop_run):
    state = json.loads((shop_run.path / "bundle.json").read_text())["state"]
    answer = client.post(PREDICT, json={"inputs": [{"user": "v004"}], "options": {"k": 5}})
    assert answer.status_code == 200, answer.text
    (record,) = answer.json()["predictions"]
    items = [entry["item"] for entry in record["recommendations"]]
    seen = {state["items"][i] for i in state["histories"][state["users"].index("v004")]}
    assert len(items) == 5 and not seen & set(items)
    assert sum(group(item) == "p1" for item in items) >= 4  # visitor 4 is in group 1


def test_new_users_and_similar_items_over_http(client):
    answer = client.post(PREDICT, json={"inputs": [{"items": ["p2-01", "p2-02", "p2-03"]}, {"similar": "p0-05"}],
                                        "options": {"k": 6}})
    assert answer.status_code == 200, answer.text
    new_user, similar = answer.json()["predictions"]
    assert not {"p2-01", "p2-02", "p2-03"} & {entry["item"] for entry in new_user["recommendations"]}
    assert sum(group(entry["item"]) == "p2" for entry in new_user["recommendations"]) >= 4
    assert "p0-05" not in {entry["item"] for entry in similar["recommendations"]}


def test_list_options_arrive_as_lists_or_comma_text(client):
    for exclude in (["p1-00", "p1-01"], "p1-00,p1-01"):
        answer = client.post(PREDICT, json={"inputs": [{"user": "v004"}],
                                            "options": {"k": 30, "exclude": exclude, "exclude_seen": False}})
        assert answer.status_code == 200, answer.text
        assert not {"p1-00", "p1-01"} & {entry["item"] for entry in answer.json()["predictions"][0]["recommendations"]}


@pytest.mark.parametrize(("body", "status", "says"), [
    ({"inputs": [{"user": "nobody"}]}, 200, "not one the model knows"),
    ({"inputs": [{"user": "/etc/passwd"}]}, 200, "not one the model knows"),
    ({"inputs": [{"items": ["p0-01", "ghost"]}]}, 200, "ghost"),
    ({"inputs": [{"similar": "ghost"}]}, 422, "not an item of the catalogue"),
    ({"inputs": [{"user": "v001"}], "options": {"k": 0}}, 422, "k"),
    ({"inputs": [{"user": "v001"}], "options": {"k": 10**9}}, 422, "k"),
    ({"inputs": [{"user": "v001", "colour": "red"}]}, 422, "colour"),
])
def test_bad_queries_get_a_fallback_or_a_4xx(client, body, status, says):
    answer = client.post(PREDICT, json=body)
    assert answer.status_code == status, answer.text
    assert says in answer.text and "Traceback" not in answer.text


def test_k_is_capped_at_the_catalogue(client):
    answer = client.post(PREDICT, json={"inputs": [{"user": "v001"}], "options": {"k": 100_000,
                                                                                 "exclude_seen": False}})
    assert len(answer.json()["predictions"][0]["recommendations"]) == 90  # every product
