"""two_tower recommends items no interaction named, from their features: a shop of three departments whose
catalogue lists products nobody has bought yet; each customer's cold products come from their own department,
and items like a cold product are its department's."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import torchworks
from torchworks.tasks.recommendation.embeddings import UNTRAINED_SCORE

DEPARTMENTS = {"garden": "garden hose spade lawn", "kitchen": "kettle pan knife", "books": "novel poetry atlas"}


def write_shop(folder):
    """90 customers, 30 per department, each buying 12 of their department's 30 products; and a catalogue of
    those 90 products plus 4 new ones per department that no one has bought."""
    rng = np.random.default_rng(1)
    departments = list(DEPARTMENTS)
    rows = []
    for customer in range(90):
        department = departments[customer % 3]
        for step, product in enumerate(rng.choice(30, size=12, replace=False)):
            rows.append({"customer": f"c{customer:02d}", "sku": f"{department}-{product:02d}",
                         "ts": 1_700_000_000 + customer * 1000 + step})
    events = folder / "events.csv"
    pd.DataFrame(rows).to_csv(events, index=False)
    items = []
    for department, words in DEPARTMENTS.items():
        names = words.split()
        for product in range(30):
            items.append({"sku": f"{department}-{product:02d}", "name": f"{names[product % len(names)]} {product}",
                          "category": department, "price": float(10 + product)})
        for new in range(4):
            items.append({"sku": f"{department}-new{new}", "name": f"new {names[new % len(names)]}",
                          "category": department, "price": float(12 + new)})
    catalogue = folder / "catalogue.csv"
    pd.DataFrame(items).to_csv(catalogue, index=False)
    return events, catalogue


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("two-tower")
    events, catalogue = write_shop(root)
    common = dict(data=str(events), user="customer", item="sku", time="ts", item_features=str(catalogue),
                  factors=8, epochs=12, lr=0.05, batch_size=128, output=str(root / "runs"), mlflow=False,
                  progress=False)
    return {"two_tower": torchworks.train("recommendation", model="two_tower", name="tower", **common).path,
            "mf": torchworks.train("recommendation", model="mf", name="mf", **common).path}


def cold_items(state):
    return [index for index, item in enumerate(state["items"]) if "-new" in item]


def test_cold_items_are_scored_and_each_customer_gets_their_own_departments(shop):
    predictor = torchworks.load(shop["two_tower"])
    state = predictor.bundle.state
    cold = cold_items(state)
    assert len(cold) == 12 and all(state["popularity"][index] == 0 for index in cold)
    users = torch.arange(len(state["users"]))
    with torch.no_grad():
        scores = predictor.model({"user": users, "history": torch.full((len(users), 1), -1)})[:, cold]
    assert torch.isfinite(scores).all() and (scores > UNTRAINED_SCORE / 2).all()
    departments = np.array([state["items"][index].split("-")[0] for index in cold])
    right = 0
    for user, row in zip(state["users"], scores.numpy()):
        own = list(DEPARTMENTS)[int(user[1:]) % 3]
        right += np.mean(departments[np.argsort(-row)[:4]] == own)
    assert right / len(state["users"]) > 0.9


def test_lists_may_hold_cold_items_and_items_like_a_cold_one_share_its_department(shop):
    predictor = torchworks.load(shop["two_tower"])
    (record,) = predictor.predict({"similar": "kitchen-new0"}, k=8)
    assert sum(entry["item"].startswith("kitchen") for entry in record["recommendations"]) >= 7
    (record,) = predictor.predict({"user": "c01"}, k=30, categories="kitchen")  # c01 shops in the kitchen
    assert any("-new" in entry["item"] for entry in record["recommendations"])


def test_matrix_factorisation_never_lists_an_item_it_was_not_trained_on(shop):
    predictor = torchworks.load(shop["mf"])
    (record,) = predictor.predict({"user": "c01"}, k=40, categories="kitchen")
    assert not any("-new" in entry["item"] for entry in record["recommendations"])
    assert len(record["recommendations"]) == 30 - 12  # the department's products c01 has not bought


def test_the_bundle_records_the_features_and_keeps_them_in_the_weights(shop):
    manifest = json.loads((shop["two_tower"] / "bundle.json").read_text())
    assert manifest["state"]["architecture"]["genres"] == 3 and manifest["state"]["architecture"]["numbers"] == 1
    assert manifest["state"]["architecture"]["text"] == 384
    assert manifest["weights"]["tensors"]["text_features"] == [len(manifest["state"]["items"]), 384]
    assert "item features (two_tower)" in manifest["data"]["summary"]


def test_two_tower_without_any_item_feature_says_what_it_needs(tmp_path):
    from torchworks.errors import DataError

    events, _ = write_shop(tmp_path)
    with pytest.raises(DataError, match="no item features") as error:
        torchworks.train("recommendation", data=str(events), user="customer", item="sku", time="ts",
                         model="two_tower", epochs=1, output=str(tmp_path / "runs"), mlflow=False, progress=False)
    assert "item_features=" in error.value.hint
