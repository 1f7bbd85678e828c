"""Lists from the bundle's item index: an exact (flat) index gives the very lists of scoring every item, an
approximate one is measured against it when built, the index is written into the bundle and checked when it
is loaded, and predict and serve take their lists from it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import torchworks
from torchworks.errors import BundleError, ConfigError
from torchworks.tasks.recommendation.retrieval import INDEX_FILE, IndexedRanking, index_positions

pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def indexed_run(tmp_path_factory, interactions_log):
    """A small model trained with an exact index in its bundle."""
    root = tmp_path_factory.mktemp("indexed-run")
    run = torchworks.train("recommendation", data=str(interactions_log), output=str(root / "runs"), name="indexed",
                           factors=16, epochs=3, lr=0.02, negatives=64, batch_size=256, item_index="flat",
                           mlflow=False, progress=False)
    return run.path


def listed(record: dict) -> list[str]:
    return [entry["item"] for entry in record["recommendations"]]


def test_the_bundle_lists_the_index_with_its_hash_and_records_its_recall(indexed_run):
    manifest = json.loads((indexed_run / "bundle.json").read_text())
    entry = manifest["files"][INDEX_FILE]
    assert entry["bytes"] == (indexed_run / INDEX_FILE).stat().st_size and len(entry["sha256"]) == 64
    facts = manifest["state"]["item_index"]
    assert facts["kind"] == "flat" and facts["recall@10"] == 1.0  # exact search against itself
    assert facts["items"] == sum(count > 0 for count in manifest["state"]["popularity"])
    assert facts["users_measured"] == len(manifest["state"]["users"])


def test_lists_from_an_exact_index_are_the_lists_of_scoring_every_item(indexed_run, tmp_path):
    predictor = torchworks.load(indexed_run)
    assert predictor.task._index is not None
    state = predictor.bundle.state
    queries = [{"user": user} for user in state["users"][:30]] + [{"items": ",".join(state["items"][:3])}]
    indexed = predictor.predict(queries, k=15)
    without = tmp_path / "without"  # the same bundle with the index taken out: every item scored
    shutil.copytree(indexed_run, without)
    manifest = json.loads((without / "bundle.json").read_text())
    del manifest["files"][INDEX_FILE]
    (without / "bundle.json").write_text(json.dumps(manifest))
    scored = torchworks.load(without)
    assert scored.task._index is None
    for first, second in zip(indexed, scored.predict(queries, k=15)):
        assert listed(first) == listed(second)
        assert np.allclose([e["score"] for e in first["recommendations"]],
                           [e["score"] for e in second["recommendations"]], atol=1e-4)
    seen_too = predictor.predict({"user": state["users"][0]}, k=15, exclude_seen=False)[0]
    assert set(listed(seen_too)) & {state["items"][item] for item in state["histories"][0]}


def test_filters_apply_to_the_indexs_candidates(indexed_run):
    predictor = torchworks.load(indexed_run)
    state = predictor.bundle.state
    genre = state["genres"][0][0]
    (record,) = predictor.predict({"user": state["users"][1]}, categories=genre, exclude=state["items"][0])
    assert record["recommendations"] and all(genre in entry["genres"] for entry in record["recommendations"])
    assert state["items"][0] not in listed(record)


def test_the_runner_fetches_the_seen_items_and_more(indexed_run):
    predictor = torchworks.load(indexed_run)
    state = predictor.bundle.state
    runner = predictor.task.prediction_runner(predictor.model, state)
    assert isinstance(runner, IndexedRanking)
    from torchworks.tasks.recommendation.dataset import model_inputs

    (row,) = runner(model_inputs([2], [[]]))
    assert len(row["items"]) == min(len(runner.ids), 200 + len(state["histories"][2]))
    assert np.all(np.diff(row["scores"]) <= 1e-6)


def test_a_changed_or_foreign_index_is_refused(indexed_run, tmp_path):
    changed = tmp_path / "changed"
    shutil.copytree(indexed_run, changed)
    data = bytearray((changed / INDEX_FILE).read_bytes())
    data[-1] ^= 0xFF
    (changed / INDEX_FILE).write_bytes(bytes(data))
    with pytest.raises(BundleError, match="changed after training"):
        torchworks.load(changed)
    (changed / INDEX_FILE).unlink()
    with pytest.raises(BundleError, match="missing"):
        torchworks.load(changed)


def test_an_index_of_another_shape_is_refused(indexed_run):
    from torchworks.engine.loading import load_model
    from torchworks.tasks.recommendation.neighbours import ItemIndex
    from torchworks.tasks.recommendation.retrieval import read_item_index

    _, _, _, model = load_model(indexed_run)
    other = ItemIndex.build(np.random.default_rng(0).normal(size=(7, 16)), kind="flat")
    with pytest.raises(BundleError, match="does not match the model"):
        read_item_index(other.to_bytes(), model)


def test_neumf_cannot_ask_for_an_index(interactions_log, tmp_path):
    with pytest.raises(ConfigError, match="cannot have an item index"):
        torchworks.train("recommendation", data=str(interactions_log), output=str(tmp_path), model="neumf",
                         item_index="hnsw", epochs=1, mlflow=False, progress=False)


def test_index_positions_drop_items_the_index_does_not_hold():
    ids = np.array([1, 4, 5, 9])
    assert index_positions(ids, [9, 2, 1, 11]).tolist() == [3, 0]


def test_the_server_takes_its_lists_from_the_index(indexed_run):
    from fastapi.testclient import TestClient

    from torchworks.server.app import build_app
    from torchworks.server.settings import ServeSettings
    from torchworks.server.startup import load_models

    settings = ServeSettings(max_wait_ms=1.0)
    models, metrics = load_models([f"shop={indexed_run}"], settings)
    calls = []
    original = IndexedRanking.__call__
    state = torchworks.load(indexed_run).bundle.state
    try:
        IndexedRanking.__call__ = lambda self, inputs: calls.append(len(inputs["user"])) or original(self, inputs)
        with TestClient(build_app(models, settings, metrics), base_url="http://127.0.0.1:8080") as client:
            answer = client.post("/v1/models/shop/predict", json={"inputs": [{"user": state["users"][5]}],
                                                                     "options": {"k": 4}})
    finally:
        IndexedRanking.__call__ = original
    assert answer.status_code == 200, answer.text
    (record,) = answer.json()["predictions"]
    assert len(record["recommendations"]) == 4 and calls
    assert not {state["items"][item] for item in state["histories"][5]} & {e["item"] for e in record["recommendations"]}


def test_hnsw_searches_more_candidates_until_its_recall_is_close_to_exact(indexed_run, monkeypatch):
    from torchworks.engine.loading import load_model
    from torchworks.tasks.recommendation import retrieval

    _, task, config, model = load_model(indexed_run)
    measured = iter([0.50, 0.90, 0.97, 0.99])
    tried = []

    def recall(model, index, ids, state):
        tried.append(index.ef_search)
        return next(measured), 7

    monkeypatch.setattr(retrieval, "measure_recall", recall)
    index, facts = retrieval.build_item_index(model, task_state(indexed_run), "hnsw")
    assert tried == [128, 256, 512] and facts["ef_search"] == 512 == index.ef_search
    assert facts["recall@10"] == 0.97 and facts["users_measured"] == 7


def test_an_automatic_index_too_far_from_exact_is_left_out(indexed_run, monkeypatch):
    from torchworks.engine.loading import load_model
    from torchworks.tasks.recommendation import retrieval

    _, task, config, model = load_model(indexed_run)
    monkeypatch.setattr(retrieval, "measure_recall", lambda *args: (0.4, 10))
    monkeypatch.setattr(retrieval, "INDEX_FROM", 1)  # this small catalogue counts as large
    state = task_state(indexed_run)
    assert task.bundle_files(model, state, config.model_copy(update={"item_index": "auto"})) == {}
    assert state["item_index"] is None
    kept = task.bundle_files(model, state, config.model_copy(update={"item_index": "hnsw"}))  # asked for: kept
    assert list(kept) == [INDEX_FILE] and state["item_index"]["recall@10"] == 0.4


def task_state(run):
    return json.loads((run / "bundle.json").read_text())["state"]


def test_a_catalogue_too_large_for_bundle_json_keeps_ids_and_histories_in_files(interactions_log, tmp_path,
                                                                                  monkeypatch):
    """A million items would make bundle.json hundreds of MB (it is refused over 20): the ids, titles,
    genres, popularity and histories go into Arrow files beside it, and every mode reads them back."""
    from torchworks.bundle import io

    monkeypatch.setattr(io, "STATE_INLINE_BYTES", 1000)  # this small log counts as a large one
    run = torchworks.train("recommendation", data=str(interactions_log), output=str(tmp_path), name="large",
                           factors=8, epochs=1, negatives=64, item_index="flat", mlflow=False, progress=False,
                           baselines=False).path
    manifest = json.loads((run / "bundle.json").read_text())
    assert "items" not in manifest["state"] and "histories" not in manifest["state"]
    assert set(manifest["state_files"]) == {"users", "items", "titles", "genres", "popularity", "histories",
                                            "untrained_users"}
    predictor = torchworks.load(run)
    state = predictor.bundle.state
    assert len(state["items"]) == 150 and len(state["histories"]) == len(state["users"])
    (record,) = predictor.predict({"user": state["users"][0]}, k=5)
    assert len(record["recommendations"]) == 5
    assert not {state["items"][item] for item in state["histories"][0]} & set(listed(record))
