"""Classical recommenders on planted structure: two groups of users who each use only their own group's
items, so every personalised baseline must rank the user's own group first and beat popularity; item-kNN and
EASE equal their textbook formulas (computed block by block); popularity ranks by count; EASE refuses a
catalogue above its limit; ALS is skipped with the install command when implicit is missing; and on planted
ratings the offsets beat the global mean and the factorisation beats the offsets."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from scipy import sparse

from torchworks.tasks.recommendation import baselines
from torchworks.tasks.recommendation.baselines import (
    ALS,
    EASE,
    INSTALL_HINT,
    BaselineSkipped,
    ItemKNN,
    Popularity,
    ranking_baselines,
)

GROUP_ITEMS = 20  # items 0..19 belong to group A, 20..39 to group B


def _two_groups(seed: int = 0) -> tuple[sparse.csr_matrix, sparse.csr_matrix, sparse.csr_matrix]:
    """60 users of group A and 30 of group B; each has 8 training and 2 held-out items of its own group.

    Group A is larger, so its items are the popular ones and popularity fails every group B user.
    """
    rng = np.random.default_rng(seed)
    train_rows, train_cols, held_rows, held_cols = [], [], [], []
    for user in range(90):
        offset = 0 if user < 60 else GROUP_ITEMS
        # within a group, lower items are more popular (a skewed catalogue, as in real data)
        chosen = offset + rng.choice(GROUP_ITEMS, size=10, replace=False, p=_zipf(GROUP_ITEMS))
        train_rows += [user] * 8
        train_cols += chosen[:8].tolist()
        held_rows += [user] * 2
        held_cols += chosen[8:].tolist()
    shape = (90, 2 * GROUP_ITEMS)
    weights = rng.integers(1, 4, len(train_rows)).astype(np.float32)
    train = sparse.csr_matrix((weights, (train_rows, train_cols)), shape=shape)
    held_out = sparse.csr_matrix((np.ones(len(held_rows), np.float32), (held_rows, held_cols)), shape=shape)
    return train, train.copy(), held_out


def _zipf(n: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** 0.7
    return weights / weights.sum()


@pytest.fixture(scope="module")
def groups():
    return _two_groups()


@pytest.mark.parametrize("make", [lambda: ItemKNN(), lambda: EASE(), lambda: ALS(seed=0)],
                         ids=["item_knn", "ease", "als"])
def test_personalised_baselines_rank_the_users_own_group_first(groups, make):
    train, _, _ = groups
    users = np.arange(90)
    scores = make().fit(train).scores(users)
    assert scores.shape == (90, 40) and scores.dtype == np.float32
    unseen = np.where(train.toarray() > 0, -np.inf, scores)
    top = np.argsort(-unseen, axis=1, kind="stable")[:, :10]  # 12 unseen items of the own group remain
    own_group = (top >= GROUP_ITEMS) == (users[:, None] >= 60)
    assert own_group.mean() > 0.97


def test_ranking_baselines_beat_popularity_and_report_every_metric(groups):
    results, skipped = ranking_baselines(*groups, seed=0, batch_users=32)
    assert skipped == {}
    assert set(results) == {"popularity", "item_knn", "ease", "als"}
    for name in ("item_knn", "ease", "als"):
        assert results[name]["ndcg@10"] > results["popularity"]["ndcg@10"] + 0.1, name
        assert results[name]["hr@10"] > 0.9, name
    assert results["popularity"]["hr@10"] < 0.8  # group B users get group A's popular items
    assert all(result["users"] == 90 for result in results.values())
    assert {"hr@20", "map@20", "coverage", "popularity_bias", "mean_rec_popularity", "seconds"} <= set(
        results["ease"])


def test_popularity_ranks_by_number_of_interactions():
    train = sparse.csr_matrix(np.array([[5, 0, 1, 1], [1, 0, 1, 0], [0, 0, 1, 0]], dtype=np.float32))
    scores = Popularity().fit(train).scores(np.array([0, 2]))
    assert scores.tolist() == [[2, 0, 3, 1]] * 2  # distinct users, not summed weights


def _dense_knn(x: np.ndarray, neighbours: int, shrink: float) -> np.ndarray:
    together = x.T @ x
    norms = np.sqrt(np.diag(together))
    similarity = together / (np.outer(norms, norms) + shrink)
    np.fill_diagonal(similarity, 0.0)
    pruned = np.zeros_like(similarity)
    for item, row in enumerate(similarity):
        keep = np.lexsort((np.arange(len(row)), -row))[:neighbours]
        pruned[item, keep] = row[keep]
    return pruned


def test_item_knn_equals_its_formula_when_fitted_block_by_block(groups, monkeypatch):
    monkeypatch.setattr(baselines, "KNN_BLOCK_ENTRIES", 200)  # a few items per block
    train, _, _ = groups
    model = ItemKNN(neighbours=5, shrink=3.0).fit(train)
    x = (train.toarray() > 0).astype(np.float64)
    expected = _dense_knn(x, 5, 3.0)
    assert np.allclose(model.similarity.toarray(), expected, atol=1e-6)
    assert model.similarity.getnnz(axis=1).max() <= 5
    assert np.allclose(model.scores(np.arange(90)), x @ expected, atol=1e-5)


def test_ease_equals_its_closed_form(groups, monkeypatch):
    monkeypatch.setattr(baselines, "KNN_BLOCK_ENTRIES", 300)  # Gram and mirroring in blocks of rows
    train, _, _ = groups
    x = (train.toarray() > 0).astype(np.float64)
    inverse = np.linalg.inv(x.T @ x + 50.0 * np.eye(40))
    expected = -inverse / np.diag(inverse)[None, :]
    np.fill_diagonal(expected, 0.0)
    model = EASE(l2=50.0).fit(train)
    assert np.allclose(model.weights, expected, atol=1e-5)
    assert np.allclose(model.scores(np.array([0, 70])), x[[0, 70]] @ expected, atol=1e-4)


def test_ease_refuses_a_catalogue_above_its_limit(groups):
    train, seen, held_out = groups
    with pytest.raises(BaselineSkipped, match="40 items, .* only fitted up to 39 items"):
        EASE(max_items=39).fit(train)
    wide = sparse.csr_matrix((train.data, train.indices, train.indptr), shape=(90, 20_001))
    results, skipped = ranking_baselines(wide, wide, sparse.csr_matrix(
        (held_out.data, held_out.indices, held_out.indptr), shape=(90, 20_001)))
    assert "20001 items" in skipped["ease"] and "ease" not in results and "item_knn" in results


def test_als_is_skipped_with_the_install_command_when_implicit_is_missing(groups, monkeypatch):
    for module in ("implicit", "implicit.cpu", "implicit.cpu.als"):
        monkeypatch.setitem(sys.modules, module, None)  # makes the import fail
    with pytest.raises(BaselineSkipped) as caught:
        ALS().fit(groups[0])
    assert caught.value.hint == INSTALL_HINT
    results, skipped = ranking_baselines(*groups)
    assert set(skipped) == {"als"} and INSTALL_HINT in skipped["als"]
    assert set(results) == {"popularity", "item_knn", "ease"}


def test_users_without_training_history_get_the_popular_items_from_every_baseline():
    """After a global time cut some test users have no training interactions: an arbitrary list (all scores
    zero) would make the baselines look worse than they are, so they fall back to popularity, as predict does."""
    train, seen, held_out = _two_groups()
    train, seen = train.tolil(), seen.tolil()
    newcomers = [5, 70]  # one of each group, their training rows emptied
    for user in newcomers:
        train[user, :] = 0
        seen[user, :] = 0
    train, seen = sparse.csr_matrix(train), sparse.csr_matrix(seen)
    train.eliminate_zeros()
    seen.eliminate_zeros()
    only = held_out.multiply(sparse.csr_matrix((np.ones(2), (newcomers, [0, 0])), shape=(90, 1)))
    results, _ = ranking_baselines(train, seen, sparse.csr_matrix(only))
    measured = [{key: value for key, value in result.items() if key != "seconds"} for result in results.values()]
    assert len(measured) == 4 and all(result == measured[0] for result in measured)  # the very same lists
    assert measured[0]["hr@20"] > 0
