"""Top-N lists from a trained model: seen items never listed, new users folded in, similar items, filters,
the popularity fallback, and the bad queries of RELIABILITY.md C1 (CLI and Python)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import torchworks
from torchworks.errors import ConfigError, DataError
from torchworks.tasks.recommendation.predicting import allowed_items, recommendation_records
from torchworks.tasks.recommendation.queries import Query


@pytest.fixture(scope="module")
def predictor(recommendation_run):
    return torchworks.load(recommendation_run)


def listed(record: dict) -> list[str]:
    return [entry["item"] for entry in record["recommendations"]]


def test_a_known_users_list_never_holds_an_item_they_have_seen(predictor):
    state = predictor.bundle.state
    for user in state["users"][:40]:
        (record,) = predictor.predict({"user": user})
        seen = {state["items"][item] for item in state["histories"][state["users"].index(user)]}
        assert len(listed(record)) == 10 and not seen & set(listed(record)), user
        assert record["known_user"] and record["fallback"] is None
        scores = [entry["score"] for entry in record["recommendations"]]
        assert scores == sorted(scores, reverse=True)
        assert all(entry["title"] and isinstance(entry["genres"], list) for entry in record["recommendations"])


def test_the_list_is_the_models_best_unseen_items(predictor):
    state = predictor.bundle.state
    user = state["users"][3]
    (record,) = predictor.predict({"user": user}, k=5)
    index = state["users"].index(user)
    with torch.no_grad():
        scores = predictor.model({"user": torch.tensor([index]), "history": torch.tensor([[-1]])})[0].numpy()
    scores[state["histories"][index]] = -np.inf
    assert listed(record) == [state["items"][item] for item in np.argsort(-scores, kind="stable")[:5]]


def test_exclude_seen_false_may_list_seen_items_and_k_is_capped_at_the_catalogue(predictor):
    state = predictor.bundle.state
    (record,) = predictor.predict({"user": state["users"][0]}, k=100_000, exclude_seen=False)
    assert len(listed(record)) == len(state["items"])
    (record,) = predictor.predict({"user": state["users"][0]}, k=100_000)
    assert len(listed(record)) == len(state["items"]) - len(state["histories"][0])


def test_a_new_user_from_items_gets_a_list_without_those_items_and_close_to_them(predictor):
    state = predictor.bundle.state
    user = 5
    chosen = [state["items"][item] for item in state["histories"][user]]
    (record,) = predictor.predict({"items": ",".join(chosen)}, k=20)
    assert not set(chosen) & set(listed(record)) and len(listed(record)) == 20
    assert record["user"] is None and not record["known_user"] and record["fallback"] is None
    (popular,) = predictor.predict({"user": "nobody-at-all"}, k=20)
    assert listed(record) != listed(popular)  # folded in from the items, not the fallback


def test_similar_items_are_the_nearest_by_cosine_and_leave_the_item_out(predictor):
    item = predictor.bundle.state["items"][7]
    (record,) = predictor.predict({"similar": item}, k=10)
    assert record["input"] == f"similar={item}" and item not in listed(record) and len(listed(record)) == 10
    vectors = torch.nn.functional.normalize(predictor.model.item_embedding.weight.detach(), dim=1)
    cosine = (vectors @ vectors[7]).numpy()
    cosine[7] = -np.inf
    nearest = np.argsort(-cosine, kind="stable")[:10]
    assert listed(record) == [predictor.bundle.state["items"][index] for index in nearest]
    assert np.allclose([entry["score"] for entry in record["recommendations"]], cosine[nearest], atol=1e-5)


def test_an_unknown_user_gets_the_most_popular_items_and_says_so(predictor):
    state = predictor.bundle.state
    (record,) = predictor.predict({"user": "../../etc/passwd"}, k=5)  # a path is just an unknown id: nothing read
    assert record["fallback"] == "popularity" and "not one the model knows" in record["notes"][0]
    by_popularity = np.argsort(-np.asarray(state["popularity"]), kind="stable")[:5]
    assert listed(record) == [state["items"][item] for item in by_popularity]


def test_unknown_items_are_left_out_and_named(predictor):
    state = predictor.bundle.state
    (record,) = predictor.predict({"items": [state["items"][0], "no-such-item"]})
    assert record["fallback"] is None and "no-such-item" in record["notes"][0]
    (record,) = predictor.predict({"items": "nope,nada"})
    assert record["fallback"] == "popularity"


def test_filters_restrict_the_list(predictor):
    state = predictor.bundle.state
    genre = state["genres"][int(np.argmax(state["popularity"]))][0]
    (record,) = predictor.predict({"user": state["users"][1]}, categories=genre)
    assert record["recommendations"] and all(genre in entry["genres"] for entry in record["recommendations"])
    allowed = state["items"][:6]
    (record,) = predictor.predict({"user": state["users"][1]}, include=",".join(allowed), exclude_seen=False)
    assert set(listed(record)) <= set(allowed)
    top = listed(predictor.predict({"user": state["users"][1]})[0])
    (record,) = predictor.predict({"user": state["users"][1]}, exclude=",".join(top[:3]))
    assert not set(top[:3]) & set(listed(record))


def test_allowed_items_combines_include_exclude_and_categories():
    state = {"items": ["a", "b", "c", "d"], "genres": [["x"], ["y"], ["x", "y"], []],
             "include": ["a", "b", "c"], "exclude": ["b"], "categories": ["X"]}
    assert allowed_items(state).tolist() == [True, False, True, False]


def test_records_of_raw_ids_rank_everything():
    state = {"users": ["u"], "items": ["a", "b", "c"], "titles": ["A", "B", "C"], "genres": [[], [], []],
             "popularity": [1, 2, 3], "k": 2}
    (record,) = recommendation_records(torch.tensor([[0.1, 0.9, 0.5]]), ["row 0"], state)
    assert listed(record) == ["b", "c"] and record["input"] == "row 0"
    query = Query("user=u", "u", 0, exclude={1})
    (record,) = recommendation_records(torch.tensor([[0.1, 0.9, 0.5]]), [query], state)
    assert listed(record) == ["c", "a"]


def test_bad_queries_are_clear_errors(predictor):
    with pytest.raises(ConfigError):
        predictor.predict({"user": "1"}, k=0)
    with pytest.raises(ConfigError):
        predictor.predict({"user": "1"}, k=10**9)
    with pytest.raises(DataError, match="similar=zzz is not an item of the catalogue"):
        predictor.predict({"similar": "zzz"}, bad_files="fail")
    with pytest.raises(DataError, match="the key 'users'"):
        predictor.predict({"users": "1"}, bad_files="fail")


def test_a_table_of_users_gives_one_list_each_and_a_csv_row_per_item(predictor, tmp_path):
    state = predictor.bundle.state
    table = tmp_path / "users.csv"
    table.write_text("customer_id\n" + "\n".join(state["users"][:3]) + "\nstranger\n")
    records = predictor.predict(str(table), k=4)
    assert [record["user"] for record in records] == [*state["users"][:3], "stranger"]
    output = tmp_path / "recs.csv"
    predictor.save(records, output)
    lines = output.read_text().strip().splitlines()
    assert len(lines) == 1 + 4 * 4 and lines[0].startswith("input,user,fallback,rank,item,title")


def run_cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "torchworks", *arguments], capture_output=True, text=True,
                          timeout=300)


def test_the_cli_takes_user_items_and_similar_as_settings(recommendation_run, predictor):
    state = predictor.bundle.state
    done = run_cli("predict", str(recommendation_run), f"user={state['users'][2]}", "k=3")
    assert done.returncode == 0, done.stderr
    (record,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert record["user"] == state["users"][2] and len(record["recommendations"]) == 3
    done = run_cli("predict", str(recommendation_run), f"items={state['items'][1]},{state['items'][2]}", "k=2")
    assert done.returncode == 0 and len(json.loads(done.stdout)["recommendations"]) == 2
    for bad, message in (("k=0", "k"), ("similar=not-an-item", "not an item of the catalogue")):
        done = run_cli("predict", str(recommendation_run), f"user={state['users'][2]}", bad) if bad == "k=0" else \
            run_cli("predict", str(recommendation_run), bad)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_users_who_came_after_a_time_cut_are_folded_in_from_their_items(interactions_log, tmp_path):
    """A global time cut leaves users with no training interactions: their embeddings never trained, so
    evaluation and predict take them as someone new, from the items they have."""
    run = torchworks.train("recommendation", data=str(interactions_log), split="time", factors=8, epochs=1,
                           negatives=64, output=str(tmp_path), name="cut", mlflow=False, progress=False,
                           baselines=False)
    predictor = torchworks.load(run.path)
    state = predictor.bundle.state
    assert state["untrained_users"], "the generated log has users who start late"
    late = state["untrained_users"][0]
    (record,) = predictor.predict({"user": state["users"][late]})
    assert not record["known_user"] and record["fallback"] is None and "folded in" in record["notes"][0]
    seen = {state["items"][item] for item in state["histories"][late]}
    assert record["recommendations"] and not seen & set(listed(record))
    from torchworks.tasks.recommendation.data import prepare_recommendation_data

    test = prepare_recommendation_data(predictor.config, state).prepared.test
    untrained = np.isin(test.users, state["untrained_users"])
    assert untrained.any()
    assert (test.model_users[untrained] == len(state["users"])).all()
    assert (test.model_users[~untrained] == test.users[~untrained]).all()
