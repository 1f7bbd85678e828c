"""Full-ranking metrics on cases small enough to work out by hand: one user with hits at known ranks, ties
broken towards the lower index, seen items never returned, -1 where a user runs out of unseen items, users
without held-out items skipped, numpy and torch scores alike, and two updates adding up to one."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from torchworks.errors import ConfigError
from torchworks.tasks.recommendation import ranking
from torchworks.tasks.recommendation.ranking import (
    RankingMetrics,
    item_popularity,
    rating_errors,
    top_items,
)

NONE = np.empty(0, dtype=np.int64)


def _brute_force_top(scores: np.ndarray, seen_rows: list[np.ndarray], k: int) -> np.ndarray:
    """The definition: sort each row by (score descending, index ascending), NaN last, seen items dropped."""
    out = np.full((len(scores), min(k, scores.shape[1])), -1, dtype=np.int64)
    for row, values in enumerate(scores):
        allowed = np.setdiff1d(np.arange(len(values)), seen_rows[row])
        nan = np.isnan(values[allowed])
        order = allowed[np.lexsort((allowed, -np.nan_to_num(values[allowed], nan=0.0), nan))][:k]
        out[row, : len(order)] = order
    return out


def test_top_items_orders_best_first_and_masks_seen_items():
    scores = np.array([[0.9, 0.1, 0.8, 0.3, 0.7, 0.2]], dtype=np.float32)
    assert top_items(scores, [NONE], 3).tolist() == [[0, 2, 4]]
    assert top_items(scores, [np.array([0, 4])], 3).tolist() == [[2, 3, 5]]


def test_top_items_breaks_ties_towards_the_lower_index():
    assert top_items(np.zeros((1, 6)), [NONE], 3).tolist() == [[0, 1, 2]]
    assert top_items(np.array([[0.5, 1.0, 0.5, 1.0]]), [NONE], 4).tolist() == [[1, 3, 0, 2]]
    # the cut falls inside a tie, and the seen item 1 must not take a place
    assert top_items(np.array([[1.0, 2.0, 2.0, 2.0, 2.0]]), [np.array([1])], 2).tolist() == [[2, 3]]


def test_top_items_pads_with_minus_one_and_never_returns_more_than_the_catalogue():
    scores = np.array([[0.1, 0.2, 0.3, 0.4]])
    assert top_items(scores, [np.array([0, 1, 3])], 3).tolist() == [[2, -1, -1]]
    assert top_items(scores, [NONE], 10).tolist() == [[3, 2, 1, 0]]
    assert top_items(scores, [np.arange(4)], 2).tolist() == [[-1, -1]]


def test_top_items_ranks_nan_last_and_keeps_minus_infinity_items():
    scores = np.array([[np.nan, -np.inf, 0.5, np.nan]])
    assert top_items(scores, [np.array([2])], 3).tolist() == [[1, 0, 3]]
    # a NaN comes first out of the search, so the cut among the numbers must be found again
    assert top_items(np.array([[np.nan, 5.0, 4.0, 3.0, 2.0]]), [NONE], 3).tolist() == [[1, 2, 3]]


def test_top_items_accepts_numpy_and_torch_alike():
    rng = np.random.default_rng(0)
    scores = np.round(rng.standard_normal((5, 30)), 1).astype(np.float32)
    seen = [rng.choice(30, size=n, replace=False) for n in (0, 3, 10, 25, 29)]
    expected = _brute_force_top(scores, seen, 8)
    assert np.array_equal(top_items(scores, seen, 8), expected)
    assert np.array_equal(top_items(torch.from_numpy(scores), seen, 8), expected)
    assert np.array_equal(top_items(torch.from_numpy(scores).to(torch.bfloat16), seen, 8),
                          _brute_force_top(torch.from_numpy(scores).to(torch.bfloat16).float().numpy(), seen, 8))
    assert np.array_equal(top_items(scores.astype(np.float64), seen, 8), expected)


def test_top_items_matches_the_definition_over_several_blocks(monkeypatch):
    monkeypatch.setattr(ranking, "BLOCK_ENTRIES", 1500)  # 3 rows of 500 items per block
    monkeypatch.setattr(ranking, "CANDIDATE_ENTRIES", 200)  # ...or 2 rows of up to 81 candidates
    rng = np.random.default_rng(1)
    scores = np.round(rng.standard_normal((9, 500)) * 2) / 2  # heavy ties
    scores[3] = 0.0
    scores[4, ::7] = np.nan
    seen = [rng.choice(500, size=rng.integers(0, 60), replace=False) for _ in range(9)]
    assert np.array_equal(top_items(scores, seen, 20), _brute_force_top(scores, seen, 20))


def test_top_items_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match="seen rows"):
        top_items(np.zeros((2, 5)), [NONE], 3)
    with pytest.raises(ValueError, match="must lie in"):
        top_items(np.zeros((1, 5)), [np.array([5])], 3)


def test_metrics_of_one_user_with_hits_at_ranks_two_and_four():
    metrics = RankingMetrics(np.ones(6), ks=(2, 4))
    scores = np.array([[0.9, 0.1, 0.8, 0.3, 0.7, 0.2]])  # ranking 0, 2, 4, 3, 5, 1
    metrics.update(scores, [NONE], [np.array([2, 3])])
    result = metrics.compute()
    assert set(result) == {"hr@2", "recall@2", "ndcg@2", "map@2", "hr@4", "recall@4", "ndcg@4", "map@4",
                           "coverage", "popularity_bias", "mean_rec_popularity", "users"}
    ideal = 1 + 1 / math.log2(3)
    assert result["hr@2"] == 1.0 and result["recall@2"] == 0.5
    assert result["ndcg@2"] == pytest.approx((1 / math.log2(3)) / ideal)
    assert result["map@2"] == pytest.approx(0.5 / 2)  # precision 1/2 at rank 2, over min(2, 2)
    assert result["recall@4"] == 1.0
    assert result["ndcg@4"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / ideal)
    assert result["map@4"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert result["users"] == 1 and isinstance(result["users"], int)
    assert all(isinstance(value, float) for name, value in result.items() if name != "users")


def test_ideal_dcg_and_map_use_at_most_k_positives():
    metrics = RankingMetrics(np.ones(5), ks=(1,))
    metrics.update_top(np.array([[0]]), [np.array([0, 1, 2])])
    result = metrics.compute()
    assert result["ndcg@1"] == 1.0 and result["map@1"] == 1.0
    assert result["recall@1"] == pytest.approx(1 / 3)  # recall divides by every positive


def test_users_without_positives_are_skipped():
    metrics = RankingMetrics(np.ones(4), ks=(2,))
    metrics.update(np.array([[4.0, 3.0, 2.0, 1.0]] * 3), [NONE] * 3, [np.array([0]), NONE, np.array([3])],
                   users=np.array([10, 11, 12]))
    result = metrics.compute()
    assert result["users"] == 2
    assert result["hr@2"] == 0.5
    users, values = metrics.per_user("hr@2")
    assert users.tolist() == [10, 12] and values.tolist() == [1.0, 0.0]


def test_no_user_at_all_gives_nan_metrics():
    metrics = RankingMetrics(np.ones(3), ks=(2,))
    metrics.update(np.zeros((1, 3)), [NONE], [NONE])
    result = metrics.compute()
    assert result["users"] == 0 and math.isnan(result["ndcg@2"]) and math.isnan(result["coverage"])


def test_coverage_and_popularity_bias_of_the_shortest_lists():
    popularity = np.array([6.0, 3.0, 2.0, 1.0, 0.0, 0.0])  # mean 2
    metrics = RankingMetrics(popularity, ks=(2, 3))
    top = np.array([[0, 1, 2], [0, 3, 4]])
    metrics.update_top(top, [np.array([5]), np.array([5])])
    result = metrics.compute()
    assert result["coverage"] == pytest.approx(3 / 6)  # items 0, 1, 3 in the top 2
    assert result["mean_rec_popularity"] == pytest.approx((6 + 3 + 6 + 1) / 4)
    assert result["popularity_bias"] == pytest.approx(4.0 / 2.0)


def test_short_lists_count_as_padded_and_minus_one_is_no_item():
    metrics = RankingMetrics(np.array([1.0, 1.0]), ks=(10,))
    metrics.update_top(np.array([[1, -1]]), [np.array([0, 1])])
    result = metrics.compute()
    assert result["recall@10"] == 0.5 and result["coverage"] == 0.5 and result["mean_rec_popularity"] == 1.0


def test_two_updates_add_up_to_one():
    rng = np.random.default_rng(2)
    scores = torch.from_numpy(rng.standard_normal((8, 40)).astype(np.float32))
    seen = [rng.choice(40, 5, replace=False) for _ in range(8)]
    positives = [np.setdiff1d(rng.choice(40, 4, replace=False), row) for row in seen]
    whole, halves = RankingMetrics(rng.integers(0, 9, 40)), RankingMetrics(rng.integers(0, 9, 40))
    halves.popularity = whole.popularity
    whole.update(scores, seen, positives)
    halves.update(scores[:5], seen[:5], positives[:5])
    halves.update(scores[5:], seen[5:], positives[5:])
    assert halves.compute() == whole.compute()
    assert halves.per_user("map@20")[0].tolist() == list(range(8))  # default user ids: order over all updates
    halves.reset()
    assert halves.compute()["users"] == 0


def test_per_user_names_an_unknown_metric():
    with pytest.raises(ConfigError, match="ndcg@10"):
        RankingMetrics(np.ones(3)).per_user("ndgc@10")


def test_item_popularity_counts_users_per_item():
    from scipy import sparse

    train = sparse.csr_matrix(np.array([[3.0, 0, 1], [1.0, 0, 0]], dtype=np.float32))
    assert item_popularity(train).tolist() == [2.0, 0.0, 1.0]


def test_rating_errors():
    result = rating_errors(np.array([3.0, 4.0, 5.0]), np.array([4.0, 4.0, 3.0]))
    assert result["rmse"] == pytest.approx(math.sqrt(5 / 3)) and result["mae"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        rating_errors(np.array([1.0]), np.array([1.0, 2.0]))
