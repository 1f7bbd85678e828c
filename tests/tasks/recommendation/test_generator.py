"""The generated movie-rating log: deterministic, the sizes asked for, MovieLens-shaped, with the structure it
promises (activity floor, heavy-tailed popularity, taste clusters, releases) and refusals of bad arguments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from torchworks.errors import ConfigError, DataError
from torchworks.tasks.recommendation.generator import (
    CLUSTERS,
    GENRES,
    PERIOD,
    START,
    generate_log,
    make_interactions,
)
from torchworks.tasks.recommendation.movielens import LAYOUT_LATEST
from torchworks.tasks.recommendation.reading import read_interactions

SMALL = {"n_users": 50, "n_items": 80, "n_interactions": 2000, "progress": False}


@pytest.fixture(scope="module")
def default_log():
    """The default size (1,000 users x 1,700 movies x 100,000 ratings): about a second."""
    return generate_log(1000, 1700, 100_000, seed=0)


def test_the_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path):
    first = make_interactions(tmp_path / "a", seed=3, **SMALL)
    second = make_interactions(tmp_path / "b", seed=3, **SMALL)
    other = make_interactions(tmp_path / "c", seed=4, **SMALL)
    for name in ("ratings.csv", "movies.csv", "users.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    assert (first / "ratings.csv").read_bytes() != (other / "ratings.csv").read_bytes()
    assert sorted(p.name for p in first.iterdir()) == ["movies.csv", "ratings.csv", "users.csv"]


def test_a_small_log_has_the_sizes_asked_for_and_the_movielens_columns(tmp_path):
    out = make_interactions(tmp_path / "shop", **SMALL)
    ratings, movies, users = (pd.read_csv(out / name) for name in ("ratings.csv", "movies.csv", "users.csv"))
    assert list(ratings.columns) == ["userId", "movieId", "rating", "timestamp"]
    assert list(movies.columns) == ["movieId", "title", "genres"]
    assert list(users.columns) == ["userId", "cluster", "mixed_with", "drifts_to", "drift", "activity"]
    assert len(ratings) == 2000 and len(movies) == 80 and len(users) == 50
    assert ratings["userId"].nunique() == 50 and ratings["movieId"].between(1, 80).all()
    assert set(ratings["rating"]) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert ratings["timestamp"].between(START, START + PERIOD).all()
    assert not ratings.duplicated(["userId", "movieId"]).any()  # picked without replacement
    per_user = ratings.groupby("userId").size()
    assert per_user.min() >= 20 and (per_user.to_numpy() == users["activity"].to_numpy()).all()
    assert (ratings.groupby("userId")["timestamp"].diff().dropna() >= 0).all()  # by user, then time
    assert movies["title"].is_unique and movies["title"].str.fullmatch(r".+ \(\d{4}\)").all()
    genres = movies["genres"].str.split("|")
    assert genres.map(len).between(1, 3).all() and set(genres.explode()) <= set(GENRES)
    assert set(users["cluster"]) <= set(CLUSTERS) and (users["cluster"] != users["drifts_to"]).all()


def test_the_movielens_reader_reads_it_back(tmp_path):
    out = make_interactions(tmp_path / "log", **SMALL)
    log = read_interactions(out)
    assert log.notes["layout"] == LAYOUT_LATEST and len(log.frame) == 2000
    assert log.frame["user"].nunique() == 50 and len(log.items) == 80 and log.has_times and log.has_ratings
    assert all(1 <= len(genres) <= 3 for genres in log.items["genres"])


def test_the_default_log_is_realistic(default_log):
    ratings = default_log.ratings
    assert len(ratings) == 100_000 and ratings["userId"].nunique() == 1000
    activity = ratings.groupby("userId").size()
    assert activity.min() == 20 and activity.median() < activity.mean() / 1.3  # a long tail of heavy users
    popularity = ratings.groupby("movieId").size().sort_values(ascending=False)
    assert popularity.iloc[:170].sum() / len(ratings) > 0.3  # the top tenth of the movies take a third
    assert popularity.iloc[0] > 10 * popularity.median()
    shares = ratings["rating"].value_counts(normalize=True)
    assert shares[4.0] == shares.max() and shares[1.0] < 0.1 and 3.3 < ratings["rating"].mean() < 3.9


def test_no_movie_is_rated_before_its_release_and_new_movies_come_out_during_the_log(default_log):
    ratings = default_log.ratings
    released = default_log.released[ratings["movieId"].to_numpy() - 1]
    assert (ratings["timestamp"].to_numpy() >= released).all()
    assert (default_log.released > START).sum() > 300  # about a quarter of the 1,700


def test_taste_clusters_prefer_their_genres(default_log):
    ratings = default_log.ratings.merge(default_log.users[["userId", "cluster"]], on="userId")
    ratings = ratings.merge(default_log.movies[["movieId", "genres"]], on="movieId")
    horror = ratings["genres"].str.contains("Horror")
    fans = ratings["cluster"] == "horror fans"
    assert horror[fans].mean() > 2 * horror[~fans].mean()
    family = ratings["genres"].str.contains("Children|Animation")
    assert family[ratings["cluster"] == "family"].mean() > 2 * family[ratings["cluster"] != "family"].mean()


def test_the_smallest_log_allowed_gives_each_user_five(tmp_path):
    log = generate_log(10, 10, 50, seed=1)
    assert (log.ratings.groupby("userId").size() == 5).all()


def test_an_out_folder_with_anything_in_it_is_refused_and_an_empty_one_is_filled(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep me")
    with pytest.raises(DataError, match="will not write"):
        make_interactions(tmp_path / "full", **SMALL)
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["mine.txt"]
    (tmp_path / "empty").mkdir()
    assert (make_interactions(tmp_path / "empty", **SMALL) / "users.csv").is_file()


@pytest.mark.parametrize("arguments, key", [
    ({"n_users": 9}, "n_users"),
    ({"n_users": 1_000_001}, "n_users"),
    ({"n_items": 9}, "n_items"),
    ({"n_items": 2_000_000}, "n_items"),
    ({"n_users": 100, "n_interactions": 499}, "n_interactions"),
    ({"n_users": 100, "n_items": 10, "n_interactions": 501}, "n_interactions"),
    ({"seed": -1}, "seed"),
])
def test_arguments_out_of_range_are_config_errors(tmp_path, arguments, key):
    with pytest.raises(ConfigError, match=f"{key} is out of range"):
        make_interactions(tmp_path / "out", **{"progress": False, **arguments})
    assert not (tmp_path / "out").exists()


def test_the_generated_log_has_collaborative_signal(default_log):
    """Users of one cluster rate more of the same movies than users of two do, and each user's last movie is
    found more often by item co-occurrence (cosine item-kNN) than by popularity alone."""
    ratings, users = default_log.ratings, default_log.users
    last = ratings.groupby("userId").tail(1)  # by user, then time: the last is each user's latest
    train = ratings.drop(last.index)
    matrix = np.zeros((1000, 1700))
    matrix[train["userId"] - 1, train["movieId"] - 1] = 1.0
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, 1000, (4000, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    a, b = matrix[pairs[:, 0]], matrix[pairs[:, 1]]
    overlap = (a * b).sum(1) / np.sqrt(a.sum(1) * b.sum(1))
    clusters = users["cluster"].to_numpy()
    same = clusters[pairs[:, 0]] == clusters[pairs[:, 1]]
    assert overlap[same].mean() > 1.2 * overlap[~same].mean()

    def hits(scores):
        scores = np.where(matrix > 0, -np.inf, scores)
        top = np.argsort(-scores, axis=1)[:, :10]
        return (top == (last["movieId"].to_numpy() - 1)[:, None]).any(1).mean()

    counts = matrix.sum(0)
    similarity = matrix.T @ matrix / np.sqrt(np.outer(counts, counts) + 1e-9)
    np.fill_diagonal(similarity, 0)
    popular = hits(np.tile(counts, (1000, 1)))
    assert 0.03 < popular < 0.2 and hits(matrix @ similarity) > 1.2 * popular
