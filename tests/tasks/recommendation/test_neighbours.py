"""The item index on planted clusters (5,000 items in 25 clusters with popularity biases): the HNSW top-10 is the
exact top-10 for nearly every user, its scores are the model's dot products plus biases, excluded items never
come back (and a user who has seen everything gets -1 padding), an index read back from bytes answers the
same, junk bytes are a clear BundleError, exact search equals a numpy brute force, and a missing faiss is a
ConfigError naming the install command when an index is built or read, not when the module is imported."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from torchworks.errors import BundleError, ConfigError
from torchworks.tasks.recommendation import neighbours
from torchworks.tasks.recommendation.neighbours import INSTALL_HINT, ItemIndex, recall_at_k

pytest.importorskip("faiss")

N_ITEMS, FACTORS, CLUSTERS, USERS, K = 5000, 16, 25, 60, 10


@pytest.fixture(scope="module")
def catalogue() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Item vectors around cluster centres (longer for popular items), popularity biases, and users drawn
    near one cluster each."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((CLUSTERS, FACTORS)) / np.sqrt(FACTORS)
    cluster = rng.integers(0, CLUSTERS, N_ITEMS)
    popularity = -np.log(rng.permutation(N_ITEMS) + 1.0)
    vectors = (centres[cluster] + 0.5 * rng.standard_normal((N_ITEMS, FACTORS)) / np.sqrt(FACTORS)) \
        * (1.2 + 0.06 * popularity)[:, None]
    biases = 1.0 + 0.3 * popularity
    users = 3 * centres[rng.integers(0, CLUSTERS, USERS)] + 0.3 * rng.standard_normal((USERS, FACTORS))
    return vectors.astype(np.float32), biases.astype(np.float32), users.astype(np.float32)


@pytest.fixture(scope="module")
def index(catalogue) -> ItemIndex:
    vectors, biases, _ = catalogue
    return ItemIndex.build(vectors, biases, threads=2)


def brute_force(catalogue, k: int, exclude: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    vectors, biases, users = catalogue
    scores = users.astype(np.float64) @ vectors.T.astype(np.float64) + biases
    for row, items in enumerate(exclude or []):
        scores[row, items] = -np.inf
    items = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return items, np.take_along_axis(scores, items, 1)


def test_hnsw_finds_the_exact_top_k(catalogue, index):
    exact, _ = brute_force(catalogue, K)
    items, _ = index.search(catalogue[2], K)
    assert items.shape == (USERS, K) and items.dtype == np.int64
    assert recall_at_k(items, exact) >= 0.95


def test_scores_are_dot_products_plus_biases(catalogue, index):
    vectors, biases, users = catalogue
    items, scores = index.search(users, K)
    assert scores.dtype == np.float32
    expected = np.einsum("bkf,bf->bk", vectors[items], users) + biases[items]
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 0)


def test_exact_search_matches_numpy(catalogue, index):
    exact, exact_scores = brute_force(catalogue, K)
    items, scores = index.exact_search(catalogue[2], K)
    np.testing.assert_array_equal(items, exact)
    np.testing.assert_allclose(scores, exact_scores, rtol=1e-5, atol=1e-5)


def test_exact_search_in_blocks(catalogue, index, monkeypatch):
    monkeypatch.setattr(neighbours, "EXACT_BLOCK_SCORES", 1)  # blocks of 1,024 items
    seen = [np.arange(row, row + 40) for row in range(USERS)]
    exact, _ = brute_force(catalogue, K, seen)
    items, _ = index.exact_search(catalogue[2], K, exclude=seen)
    np.testing.assert_array_equal(items, exact)


def test_excluded_items_never_come_back(catalogue, index):
    exact, _ = brute_force(catalogue, 30)
    rng = np.random.default_rng(1)
    seen = [np.concatenate([top[:20], rng.integers(0, N_ITEMS, 30), [-1]]) for top in exact]
    for search in (index.search, index.exact_search):
        items, scores = search(catalogue[2], K, exclude=seen)
        assert all(not np.isin(row, excluded).any() for row, excluded in zip(items, seen))
        assert (items >= 0).all() and np.isfinite(scores).all()
    truth, _ = brute_force(catalogue, K, [items[items >= 0] for items in seen])
    assert recall_at_k(index.search(catalogue[2], K, exclude=seen)[0], truth) >= 0.95
    np.testing.assert_array_equal(index.exact_search(catalogue[2], K, exclude=seen)[0], truth)


@pytest.mark.parametrize("kind", ["hnsw", "flat"])
def test_padding_when_too_few_items_remain(catalogue, kind):
    vectors, biases, users = catalogue
    small = ItemIndex.build(vectors[:8], biases[:8], kind=kind)
    for search in (small.search, small.exact_search):
        items, scores = search(users[:2], 5, exclude=[np.arange(5), np.arange(8)])
        assert sorted(items[0, :3]) == [5, 6, 7] and (items[0, 3:] == -1).all()
        assert np.isfinite(scores[0, :3]).all() and np.isneginf(scores[0, 3:]).all()
        assert (items[1] == -1).all() and np.isneginf(scores[1]).all()


@pytest.mark.parametrize("kind", ["hnsw", "flat"])
def test_bytes_round_trip(catalogue, index, kind):
    vectors, biases, users = catalogue
    built = index if kind == "hnsw" else ItemIndex.build(vectors, biases, kind="flat")
    built.ef_search = 64
    data = built.to_bytes()
    assert isinstance(data, bytes)
    loaded = ItemIndex.from_bytes(data)
    assert (loaded.kind, loaded.n_items, loaded.factors, loaded.ef_search) == \
        (kind, N_ITEMS, FACTORS, 64 if kind == "hnsw" else None)
    seen = [np.arange(row, row + 10) for row in range(USERS)]
    for name in ("search", "exact_search"):
        before, after = getattr(built, name)(users, K, exclude=seen), getattr(loaded, name)(users, K, exclude=seen)
        np.testing.assert_array_equal(before[0], after[0])
        np.testing.assert_array_equal(before[1], after[1])
    built.ef_search = 128


def test_junk_bytes_are_a_bundle_error():
    with pytest.raises(BundleError, match="faiss HNSW-flat or flat L2 index") as caught:
        ItemIndex.from_bytes(b"not an index at all")
    assert "cannot be read" in str(caught.value)
    import faiss

    inner_product = faiss.IndexFlatIP(4)
    inner_product.add(np.ones((3, 4), np.float32))
    with pytest.raises(BundleError, match="wrong layout"):
        ItemIndex.from_bytes(faiss.serialize_index(inner_product).tobytes())


def test_settings_are_checked(catalogue):
    vectors, biases, _ = catalogue
    with pytest.raises(ConfigError, match="hnsw or flat"):
        ItemIndex.build(vectors, biases, kind="ivf")
    with pytest.raises(ConfigError, match="ef_search"):
        ItemIndex.build(vectors[:10], biases[:10], ef_search=0)
    with pytest.raises(ValueError, match="item_biases"):
        ItemIndex.build(vectors, biases[:-1])


def test_recall_at_k_by_hand():
    exact = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, -1, -1, -1]])
    approximate = np.array([[4, 3, 2, 1], [5, 6, 0, 10], [-1, -1, -1, -1]])
    assert recall_at_k(approximate, exact) == pytest.approx((1.0 + 0.5 + 0.0) / 3)
    assert recall_at_k(exact, exact) == 1.0
    with pytest.raises(ValueError):
        recall_at_k(approximate[:2], exact)


def test_missing_faiss_is_a_config_error_when_used(catalogue, monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss now raises ImportError
    spec = importlib.util.spec_from_file_location("neighbours_without_faiss", neighbours.__file__)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))  # importing needs no faiss
    for attempt in (lambda: ItemIndex.build(*catalogue[:2]), lambda: ItemIndex.from_bytes(b"")):
        with pytest.raises(ConfigError, match="faiss") as caught:
            attempt()
        assert caught.value.hint == INSTALL_HINT
