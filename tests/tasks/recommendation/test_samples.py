"""The "movies" sample: registered for recommendation, made once in the data home, and made afresh by
`torchworks data make interactions`."""

from __future__ import annotations

from torchworks.datasets import data_home, get_sample, make_dataset
from torchworks.tasks.recommendation.generator import make_interactions
from torchworks.tasks.recommendation.movielens import LAYOUT_LATEST
from torchworks.tasks.recommendation.reading import read_interactions
from torchworks.tasks.recommendation.samples import MOVIES


def test_movies_is_registered_for_recommendation_under_its_name_and_alias(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no file called "interactions" here, so the alias names the sample
    assert get_sample("movies") is MOVIES and get_sample("interactions") is MOVIES
    assert MOVIES.task == "recommendation" and MOVIES.defaults == {}
    assert "1,000 users" in MOVIES.description and "100,000 ratings" in MOVIES.description
    assert MOVIES.generator_function() is make_interactions


def test_the_cached_copy_is_made_once_with_the_defaults_and_read_as_movielens():
    folder = MOVIES.path()
    assert folder == data_home() / "movies" and (folder / "users.csv").is_file()
    stamp = (folder / "ratings.csv").stat().st_mtime_ns
    log = read_interactions(folder)
    assert log.notes["layout"] == LAYOUT_LATEST and len(log.frame) == 100_000
    assert log.frame["user"].nunique() == 1000 and len(log.items) == 1700
    assert MOVIES.path() == folder and (folder / "ratings.csv").stat().st_mtime_ns == stamp  # not drawn again
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".movies-")]  # no staging left


def test_data_make_interactions_writes_a_fresh_log_with_the_settings_given(tmp_path):
    out = make_dataset("interactions", {"out": str(tmp_path / "shop"), "n_users": "50", "n_items": "80",
                                        "n_interactions": "2000", "seed": "2", "progress": "false"})
    assert out == tmp_path / "shop"
    log = read_interactions(out)
    assert len(log.frame) == 2000 and log.frame["user"].nunique() == 50
