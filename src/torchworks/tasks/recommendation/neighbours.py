"""The items a user scores highest, without scoring every item: an approximate nearest-neighbour index over
the item embeddings, for catalogues too large for a full ``[B, n_items]`` pass per request.

The library is faiss (the ``recommendation`` extra), chosen over hnswlib and usearch: exact (flat) and
approximate (HNSW) search in one package, inner-product and Euclidean metrics, an index written to bytes and
read back without pickle (``serialize_index`` / ``deserialize_index``), and faiss-cpu wheels for Linux x86-64.

Matrix factorisation scores item ``j`` for user ``u`` as ``u . q_j + b_j`` (plus the user's bias, which does
not change a user's ranking). The index holds ``x_j = [q_j, b_j, sqrt(R^2 - |q_j|^2 - b_j^2)]`` with ``R`` the
largest ``|[q_j, b_j]|`` and is queried with ``y = [u, 1, 0]``: ``|x_j - y|^2 = R^2 + |y|^2 - 2 (u . q_j + b_j)``,
so the nearest item by Euclidean distance is the highest-scoring one. A graph built on the inner product
itself links most items to a few long vectors and misses the others (recall@10 of 0.70-0.93 against 0.93-0.995
this way, ef_search 32-512, on 100,000 clustered items with popularity biases: see
``benchmarks/recommendation_serving.py``). Scores are recomputed from the stored vectors: they are the model's
dot products, not distances turned back into scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from torchworks.errors import BundleError, ConfigError

#: What to run when faiss (the ``recommendation`` extra) is missing.
INSTALL_HINT = "pip install 'torchworks[recommendation]'"
KINDS = ("hnsw", "flat")
#: HNSW settings by default: see benchmarks/recommendation_serving.py for how they were chosen.
M, EF_CONSTRUCTION, EF_SEARCH = 32, 40, 128
#: Most scores :meth:`ItemIndex.exact_search` holds at once (64 MB of float32).
EXACT_BLOCK_SCORES = 1 << 24


def _faiss():
    try:
        import faiss
    except ImportError as error:
        raise ConfigError("nearest-neighbour search of items needs the package faiss", expected="faiss-cpu installed",
                          got=f"ImportError: {error}", hint=INSTALL_HINT) from error
    return faiss


class ItemIndex:
    """A faiss index of the item embeddings whose nearest neighbours are a user's highest-scoring items.

    Build one with :meth:`build` or read one with :meth:`from_bytes`; the constructor takes a faiss index
    already in the layout described in the module docstring.

    Args:
        index: A faiss ``IndexHNSWFlat`` or ``IndexFlatL2`` over ``[n, factors + 2]`` vectors.
    """

    def __init__(self, index):
        faiss = _faiss()
        self.index = index  # the object that owns the C++ index: a downcast copy would not keep it alive
        flat = faiss.downcast_index(index.storage) if hasattr(index, "storage") else index
        self.kind = "hnsw" if hasattr(self.index, "hnsw") else "flat"
        # the stored vectors, shared with the index (no copy): exact search and the returned scores use them
        self.vectors = faiss.rev_swig_ptr(flat.get_xb(), self.index.ntotal * self.index.d).reshape(
            self.index.ntotal, self.index.d)

    @property
    def n_items(self) -> int:
        return self.index.ntotal

    @property
    def factors(self) -> int:
        return self.index.d - 2

    @property
    def ef_search(self) -> int | None:
        """Candidates the HNSW search keeps (more: higher recall, slower); None for a flat index."""
        return self.index.hnsw.efSearch if self.kind == "hnsw" else None

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        if self.kind == "hnsw":
            self.index.hnsw.efSearch = _positive("ef_search", value)

    @classmethod
    def build(cls, item_vectors: np.ndarray, item_biases: np.ndarray | None = None, *, kind: str = "hnsw",
              m: int = M, ef_construction: int = EF_CONSTRUCTION, ef_search: int = EF_SEARCH,
              threads: int | None = None) -> ItemIndex:
        """Index item embeddings and biases.

        Args:
            item_vectors: ``[n, factors]`` item embeddings.
            item_biases: ``[n]`` item biases; None for zeros.
            kind: ``"hnsw"`` (approximate, a graph) or ``"flat"`` (exact, every item compared).
            m: Links per item in the HNSW graph (more: higher recall, more memory, slower build).
            ef_construction: Candidates kept while linking each item (more: better graph, slower build).
            ef_search: Candidates kept while searching; changeable later through :attr:`ef_search`.
            threads: faiss's threads for this process (``faiss.omp_set_num_threads``); None leaves them.

        Raises:
            ConfigError: faiss is missing, or ``kind`` or a size is invalid.
        """
        faiss = _faiss()
        if kind not in KINDS:
            raise ConfigError(f"unknown item index kind '{kind}'", expected=" or ".join(KINDS), got=repr(kind))
        vectors = np.asarray(item_vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) == 0:
            raise ValueError(f"item_vectors must be [n_items, factors] with n_items >= 1, got {vectors.shape}")
        biases = np.zeros(len(vectors), np.float32) if item_biases is None else np.asarray(item_biases, np.float32)
        if biases.shape != (len(vectors),):
            raise ValueError(f"item_biases must be [{len(vectors)}], got {biases.shape}")
        _set_threads(faiss, threads)
        rows = np.empty((len(vectors), vectors.shape[1] + 2), np.float32)
        rows[:, :-2], rows[:, -2] = vectors, biases
        squared = np.einsum("ij,ij->i", rows[:, :-1], rows[:, :-1], dtype=np.float64)
        rows[:, -1] = np.sqrt(squared.max() - squared)
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(rows.shape[1], _positive("m", m))
            index.hnsw.efConstruction = _positive("ef_construction", ef_construction)
            index.hnsw.efSearch = _positive("ef_search", ef_search)
        else:
            index = faiss.IndexFlatL2(rows.shape[1])
        index.add(rows)
        return cls(index)

    def search(self, user_vectors: np.ndarray, k: int, *,
               exclude: Sequence[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Each user's ``k`` highest-scoring items from the index (approximate for ``"hnsw"``).

        Excluded items are dropped from a longer answer: the index is asked for ``k`` plus the largest number
        of excluded items in the batch, so ``k`` items remain whenever the catalogue has them. HNSW keeps at
        least as many candidates as it is asked for, so that many replace a smaller :attr:`ef_search`.

        Args:
            user_vectors: ``[B, factors]`` user embeddings.
            k: Items per user.
            exclude: One array of item indices per user (seen items) never to return; ``-1`` is ignored.

        Returns:
            ``items`` int64 ``[B, k]`` and ``scores`` float32 ``[B, k]`` (``u . q_j + b_j``), best first;
            where fewer than ``k`` items remain, ``items`` is padded with ``-1`` and ``scores`` with ``-inf``.
        """
        k = _positive("k", k)
        queries = self._queries(user_vectors)
        excluded = self._excluded(exclude, len(queries))
        fetch = min(self.n_items, k + max((len(items) for items in excluded), default=0))
        _, found = self.index.search(queries, fetch)
        items = np.full((len(queries), k), -1, np.int64)
        for row, (candidates, seen) in enumerate(zip(found, excluded)):
            kept = candidates[(candidates >= 0) & ~np.isin(candidates, seen)][:k]
            items[row, :len(kept)] = kept
        scores = np.einsum("bkf,bf->bk", self.vectors[items.clip(min=0)], queries)
        scores[items < 0] = -np.inf
        order = np.argsort(-scores, axis=1, kind="stable")  # the recomputed scores decide near-ties
        return np.take_along_axis(items, order, 1), np.take_along_axis(scores, order, 1)

    def exact_search(self, user_vectors: np.ndarray, k: int, *,
                     exclude: Sequence[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The exact answer of :meth:`search`: every item scored (a torch matrix product, a block of items at a
        time, on torch's threads), the ``k`` best kept. Same arguments and results."""
        k = _positive("k", k)
        queries = torch.from_numpy(self._queries(user_vectors))
        excluded = self._excluded(exclude, len(queries))
        rows = torch.from_numpy(np.repeat(np.arange(len(queries)), [len(items) for items in excluded]))
        columns = torch.from_numpy(np.concatenate([*excluded, np.zeros(0, np.int64)]))
        vectors = torch.from_numpy(self.vectors)
        block = max(1024, EXACT_BLOCK_SCORES // max(1, len(queries)))
        best = torch.full((len(queries), 0), -torch.inf)
        best_items = torch.zeros((len(queries), 0), dtype=torch.int64)
        for start in range(0, self.n_items, block):
            scores = queries @ vectors[start:start + block].T
            inside = (columns >= start) & (columns < start + len(scores[0]))
            scores[rows[inside], columns[inside] - start] = -torch.inf
            top = torch.topk(scores, min(k, scores.shape[1]), dim=1)
            merged = torch.topk(torch.cat([best, top.values], 1), min(k, best.shape[1] + top.values.shape[1]), dim=1)
            best_items = torch.cat([best_items, top.indices + start], 1).gather(1, merged.indices)
            best = merged.values
        items = np.full((len(queries), k), -1, np.int64)
        scores = np.full((len(queries), k), -np.inf, np.float32)
        found = best.numpy() > -np.inf
        items[:, :best.shape[1]] = np.where(found, best_items.numpy(), -1)
        scores[:, :best.shape[1]] = best.numpy()
        return items, scores

    def to_bytes(self) -> bytes:
        """The index as faiss writes it (no pickle); :meth:`from_bytes` reads it back."""
        return _faiss().serialize_index(self.index).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, *, threads: int | None = None) -> ItemIndex:
        """Read an index written by :meth:`to_bytes`.

        Raises:
            BundleError: ``data`` is not a faiss index of the items in the expected layout.
            ConfigError: faiss is missing.
        """
        faiss = _faiss()
        _set_threads(faiss, threads)
        expected = "a faiss HNSW-flat or flat L2 index of item vectors, as ItemIndex.to_bytes writes it"
        try:
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        except (RuntimeError, ValueError, TypeError) as error:
            raise BundleError("the item index cannot be read", expected=expected, got=str(error).split("\n")[0][:200],
                              hint="retrain the model or rebuild its item index") from error
        if type(index).__name__ not in ("IndexHNSWFlat", "IndexFlatL2") or index.metric_type != faiss.METRIC_L2 \
                or index.d < 3 or index.ntotal < 1:
            raise BundleError("the item index has the wrong layout", expected=expected,
                              got=f"{type(index).__name__} of {index.ntotal} vectors of dimension {index.d}, "
                                  f"metric {index.metric_type}",
                              hint="retrain the model or rebuild its item index")
        return cls(index)

    def _queries(self, user_vectors: np.ndarray) -> np.ndarray:
        users = np.asarray(user_vectors, dtype=np.float32)
        if users.ndim != 2 or users.shape[1] != self.factors:
            raise ValueError(f"user_vectors must be [B, {self.factors}], got {users.shape}")
        queries = np.zeros((len(users), self.factors + 2), np.float32)
        queries[:, :-2], queries[:, -2] = users, 1.0
        return queries

    def _excluded(self, exclude: Sequence[np.ndarray] | None, users: int) -> list[np.ndarray]:
        if exclude is None:
            return [np.zeros(0, np.int64)] * users
        if len(exclude) != users:
            raise ValueError(f"exclude must hold one array per user ({users}), got {len(exclude)}")
        excluded = [np.unique(np.asarray(items, dtype=np.int64).ravel()) for items in exclude]
        return [items[(items >= 0) & (items < self.n_items)] for items in excluded]


def recall_at_k(approximate: np.ndarray, exact: np.ndarray) -> float:
    """The share of each query's exact top-k that the approximate top-k holds, averaged over queries.

    Args:
        approximate: ``[B, k]`` items found (``-1`` pads).
        exact: ``[B, k]`` the true best items (``-1`` pads: a query with fewer than ``k`` counts those it has).
    """
    approximate, exact = np.atleast_2d(approximate), np.atleast_2d(exact)
    if len(approximate) != len(exact):
        raise ValueError(f"recall_at_k needs as many approximate rows as exact ones, got {len(approximate)} "
                         f"and {len(exact)}")
    shares = []
    for found, truth in zip(approximate, exact):
        truth = truth[truth >= 0]
        if len(truth):
            shares.append(np.isin(truth, found[found >= 0]).mean())
    return float(np.mean(shares)) if shares else 1.0


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"item index setting {name} must be a whole number of at least 1", expected=">= 1",
                          got=repr(value))
    return int(value)


def _set_threads(faiss, threads: int | None) -> None:
    if threads is not None:
        faiss.omp_set_num_threads(_positive("threads", threads))
