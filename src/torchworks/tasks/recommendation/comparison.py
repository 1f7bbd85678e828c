"""The baselines of a run, fitted on the same split as the model: popularity, item-kNN, EASE and ALS under
the same full ranking (and, for ratings, the mean, biases and SVD under RMSE and MAE)."""

from __future__ import annotations

from typing import Any

from torchworks.console import say
from torchworks.tasks.recommendation.config import RecommendationConfig


def fit_baselines(made: Any, state: dict[str, Any], config: RecommendationConfig) -> dict[str, dict[str, Any]]:
    """``{name: metrics}`` with the model's keys; a baseline that cannot run here is said and left out."""
    from torchworks.tasks.recommendation.baselines import ranking_baselines
    from torchworks.tasks.recommendation.rating_baselines import rating_baselines

    binary = made.train.copy()
    if config.feedback == "explicit":
        binary.data[:] = 1.0  # the ranking baselines see who chose what, not how it was rated
    results, skipped = ranking_baselines(binary, made.seen, made.test, seed=config.seed, progress=config.progress)
    for name, reason in skipped.items():
        say(f"[dim]baseline {name} left out: {reason}[/dim]")
    if config.feedback == "explicit":
        test = made.test.tocoo()
        for name, errors in rating_baselines(made.train, test.row, test.col, test.data, seed=config.seed).items():
            results.setdefault(name, {}).update(errors)
    return results
