"""prepare_data: ids indexed, users with too few interactions left out, the split checked for leaks, the
held-out users built with what they have seen, and the state a bundle keeps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from torchworks.errors import DataError
from torchworks.tasks.recommendation.config import RecommendationConfig
from torchworks.tasks.recommendation.data import prepare_recommendation_data


def write_events(path: Path, rows: list[tuple]) -> Path:
    path.write_text("customer,sku,ts,qty\n" + "".join(",".join(map(str, row)) + "\n" for row in rows))
    return path


def shop(tmp_path: Path) -> Path:
    """Four customers; c4 has two events (too few for min_interactions=3); item z appears only at the end."""
    rows = []
    for user, items in (("c1", "abcde"), ("c2", "bcdea"), ("c3", "cdab"), ("c4", "ab")):
        rows += [(user, item, 100 * t + len(rows), 1) for t, item in enumerate(items)]
    rows.append(("c1", "z", 10_000, 2))
    return write_events(tmp_path / "events.csv", rows)


def test_columns_are_found_and_the_split_holds_out_each_users_last_items(tmp_path):
    made = prepare_recommendation_data(RecommendationConfig(data=str(shop(tmp_path))), None)
    state, data = made.prepared.state, made.prepared
    assert made.log.columns == {"user": "customer", "item": "sku", "time": "ts", "weight": "qty"}
    assert state["users"] == ["c1", "c2", "c3"]  # c4 left out
    assert data.summary["users left out (too few interactions)"] == 1
    test = {state["users"][data.test.users[i]]: [state["items"][j] for j in data.test.positives[i]]
            for i in range(len(data.test))}
    assert test == {"c1": ["z"], "c2": ["a"], "c3": ["b"]}
    val = {state["users"][data.val.users[i]]: [state["items"][j] for j in data.val.positives[i]]
           for i in range(len(data.val))}
    assert val == {"c1": ["e"], "c2": ["e"], "c3": ["a"]}
    c1 = state["users"].index("c1")
    assert sorted(state["items"][j] for j in data.test.seen[list(data.test.users).index(c1)]) == list("abcde")
    assert data.summary["test interactions with cold items (never trained on)"] == 1  # z
    assert [state["items"][i] for i in state["histories"][c1]] == list("abcdez")


def test_training_holds_only_what_came_before_and_popularity_counts_it(tmp_path):
    made = prepare_recommendation_data(RecommendationConfig(data=str(shop(tmp_path))), None)
    state, train = made.prepared.state, made.prepared.train
    pairs = {(state["users"][u], state["items"][i]) for u, i in zip(train.users.tolist(), train.items.tolist())}
    assert ("c1", "z") not in pairs and ("c1", "e") not in pairs and ("c1", "a") in pairs
    assert state["popularity"][state["items"].index("z")] == 0
    assert train.targets.tolist() == [1.0] * len(train)  # implicit: the weights (qty) of training events
    assert made.train.shape == (3, len(state["items"])) and made.test.nnz == 3


def test_a_bundles_state_keeps_its_ids_and_the_same_split(tmp_path):
    config = RecommendationConfig(data=str(shop(tmp_path)))
    first = prepare_recommendation_data(config, None)
    again = prepare_recommendation_data(config, first.prepared.state)
    assert again.prepared.state is first.prepared.state
    assert np.array_equal(again.prepared.test.users, first.prepared.test.users)
    assert again.prepared.fingerprint == first.prepared.fingerprint


def test_explicit_feedback_needs_ratings(tmp_path):
    with pytest.raises(DataError, match="has no ratings for feedback=explicit"):
        prepare_recommendation_data(RecommendationConfig(data=str(shop(tmp_path)), feedback="explicit"), None)


def test_explicit_feedback_trains_on_ratings_and_records_their_mean(tmp_path):
    path = tmp_path / "ratings.csv"
    rows = [(u, i, 1 + (u * 7 + i) % 5, 10 * t) for u in range(6) for t, i in enumerate(range(u, u + 5))]
    path.write_text("user,item,rating,timestamp\n" + "".join(f"u{u},i{i},{r},{t}\n" for u, i, r, t in rows))
    made = prepare_recommendation_data(RecommendationConfig(data=str(path), feedback="explicit"), None)
    state = made.prepared.state
    assert state["loss"] == "mse" and state["mean_rating"] == pytest.approx(made.prepared.train.targets.mean().item())
    assert all(made.prepared.test.ratings[i].tolist() for i in range(len(made.prepared.test)))


def test_too_few_active_users_is_an_error_naming_the_setting(tmp_path):
    path = write_events(tmp_path / "few.csv", [("a", "x", 1, 1), ("a", "y", 2, 1), ("b", "x", 3, 1)])
    with pytest.raises(DataError, match="min_interactions"):
        prepare_recommendation_data(RecommendationConfig(data=str(path)), None)


def test_the_cli_names_the_line_of_a_rating_outside_the_scale(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "ratings.csv"
    path.write_text("user,item,rating\nu1,a,4\nu1,b,7\nu2,a,3\n")
    done = subprocess.run([sys.executable, "-m", "torchworks", "train", "recommendation", f"data={path}",
                           "rating_scale=1,5", f"output={tmp_path / 'runs'}", "mlflow=false"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "line 3" in done.stderr and "7" in done.stderr and "1-5" in done.stderr
    assert not (tmp_path / "runs" / "recommendation").exists() or not any((tmp_path / "runs" / "recommendation").rglob(
        "bundle.json"))


def test_explicit_feedback_reports_rmse_and_mae_beside_the_rating_baselines(interactions_log, tmp_path):
    import torchworks

    result = torchworks.train("recommendation", data=str(interactions_log), feedback="explicit", epochs=2, factors=8,
                              output=str(tmp_path / "runs"), mlflow=False, progress=False)
    metrics = result.metrics
    assert 0 < metrics["mae"] <= metrics["rmse"] < 4 and "ndcg@10" in metrics
    assert {"mean", "biases", "svd"} <= set(metrics["baselines"])
    assert metrics["baselines"]["biases"]["rmse"] < metrics["baselines"]["mean"]["rmse"]
