"""The rating baselines: mean, biases and SVD on planted ratings, their range and their seed."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from torchworks.tasks.recommendation.rating_baselines import SVD, SVD_L2_GRID, Biases, rating_baselines


def _planted_ratings(seed: int = 0):
    """200 users x 150 items, a third of the pairs rated: offsets plus a strong rank-2 taste, little noise."""
    rng = np.random.default_rng(seed)
    users, items = np.nonzero(rng.random((200, 150)) < 0.33)
    user_factors, item_factors = rng.normal(0, 0.8, (200, 2)), rng.normal(0, 0.8, (150, 2))
    ratings = (3.0 + rng.normal(0, 0.5, 200)[users] + rng.normal(0, 0.5, 150)[items]
               + np.einsum("nk,nk->n", user_factors[users], item_factors[items]) + rng.normal(0, 0.3, len(users)))
    ratings = np.clip(np.round(ratings), 1, 5)
    test = rng.random(len(users)) < 0.2
    train = sparse.csr_matrix((ratings[~test], (users[~test], items[~test])), shape=(200, 150))
    return train, users[test], items[test], ratings[test]


def test_rating_baselines_order_mean_biases_svd_on_planted_ratings():
    train, users, items, ratings = _planted_ratings()
    result = rating_baselines(train, users, items, ratings, seed=0)
    assert set(result) == {"mean", "biases", "svd"}
    assert all(set(errors) == {"rmse", "mae"} for errors in result.values())
    assert result["biases"]["rmse"] < result["mean"]["rmse"] - 0.05
    assert result["svd"]["rmse"] < result["biases"]["rmse"] - 0.1
    assert result["svd"]["mae"] < result["biases"]["mae"] < result["mean"]["mae"]


def test_rating_predictions_stay_in_the_training_range_and_repeat_with_the_seed():
    train, users, items, _ = _planted_ratings(1)
    first = SVD(seed=3).fit(train)
    predicted = first.predict_ratings(users, items)
    assert predicted.min() >= 1.0 and predicted.max() <= 5.0
    assert first.chosen_l2 in SVD_L2_GRID
    assert np.array_equal(predicted, SVD(seed=3).fit(train).predict_ratings(users, items))
    offsets = Biases().fit(train).predict_ratings(users, items)
    assert offsets.min() >= 1.0 and offsets.max() <= 5.0
