"""The recommendation sample: a generated movie-rating log with known tastes.

``data=movies`` trains on a cached copy made once with the defaults (seed 0); ``torchworks data make
interactions out=FOLDER n_users=1000 n_items=1700`` writes a fresh one. A copy is a MovieLens folder in
the ml-latest layout (``ratings.csv``, ``movies.csv``) with the ground truth in ``users.csv``, written
last so that its presence marks a finished copy. numpy and pandas load only when a log is drawn.
"""

from __future__ import annotations

from pathlib import Path

from torchworks.datasets import SampleDataset, materialize_once, register_sample


def materialize_movies(target: Path) -> Path:
    """The cached log, drawn once with the defaults (about a second); a finished copy holds ``users.csv``."""
    from torchworks.tasks.recommendation.generator import FINISHED, write_log

    if not (target / FINISHED).exists():
        materialize_once(target, lambda folder: write_log(folder, 1000, 1700, 100_000, 0, True))
    return target


MOVIES = register_sample(
    SampleDataset(
        name="movies",
        task="recommendation",
        description="~1,000 users x 1,700 movies x 100,000 ratings (1-5 stars, 7 months) with genres, titles, "
                    "taste clusters and drifting tastes",
        source="generated (ratings.csv, movies.csv, users.csv in the ml-latest layout); `torchworks data make "
               "interactions` makes more",
        materialize=materialize_movies,
        generator="torchworks.tasks.recommendation.generator:make_interactions",
        aliases=("interactions",),
        defaults={},
    )
)
