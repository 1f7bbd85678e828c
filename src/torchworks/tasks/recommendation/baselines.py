"""Classical recommenders, fitted on the same training matrix as the network and ranked with the same
full-ranking metrics, so that a recommendation run's numbers always sit next to what they would be without it.

Ranking (implicit feedback, or explicit ratings taken as interactions):

- ``popularity``: everyone gets the most interacted-with items. What any model must beat first.
- ``item_knn``: cosine similarity between items' user sets (shrunk towards zero for rarely seen items),
  each item keeping its ``neighbours`` most similar items; a user's score of an item is the summed
  similarity of the user's items to it.
- ``ease``: the closed-form shallow autoencoder of Steck (2019), an item-item linear model with a zero
  diagonal; often the strongest classical baseline on small and medium catalogues, but a dense
  ``n_items x n_items`` matrix, so refused above ``max_items``.
- ``als``: implicit's weighted alternating least squares (Hu, Koren and Volinsky 2008), from the optional
  ``implicit`` package; skipped with the install command when it is missing.

The rating baselines (mean, biases, SVD) live in :mod:`.rating_baselines`.

A baseline that cannot run on this data raises :class:`BaselineSkipped`; :func:`ranking_baselines` records
its reason instead of a score.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np
from scipy import sparse
from scipy.linalg import lapack

from torchworks.errors import TorchworksError
from torchworks.progress import track
from torchworks.tasks.recommendation.ranking import KS, RankingMetrics, item_popularity

#: What to run when the ``recommendation`` extra (implicit) is missing.
INSTALL_HINT = "pip install 'torchworks[recommendation]'"
#: Most co-occurrence entries item-kNN holds at once while pruning similarities (about 60 bytes each), and
#: most entries EASE builds or mirrors at once.
KNN_BLOCK_ENTRIES = 1 << 22
#: ALS's default penalty per unit of mean interaction confidence (see :class:`ALS`).
ALS_REGULARIZATION_PER_CONFIDENCE = 5.0


class BaselineSkipped(TorchworksError):
    """A baseline that cannot run here (catalogue too large, optional package missing); ``reason`` says why."""

    code = "baseline_skipped"

    def __init__(self, name: str, reason: str, hint: str = ""):
        self.name = name
        self.reason = reason
        super().__init__(f"baseline '{name}' skipped", expected="", got=reason, hint=hint)


class RankingBaseline(Protocol):
    """A recommender fitted on the training matrix, then asked for full score rows of a batch of users."""

    name: str

    def fit(self, train: sparse.csr_matrix) -> RankingBaseline: ...

    def scores(self, users: np.ndarray) -> np.ndarray: ...


def ranking_baselines(train: sparse.csr_matrix, seen: sparse.csr_matrix, held_out: sparse.csr_matrix, *,
                      seed: int = 0, ks: tuple[int, ...] = KS, progress: bool = False,
                      batch_users: int = 1024) -> tuple[dict[str, dict], dict[str, str]]:
    """Fit ``popularity``, ``item_knn``, ``ease`` and ``als`` on ``train`` and rank for the held-out users.

    Args:
        train: ``[n_users, n_items]`` CSR of training interactions (weights, or ratings).
        seen: The same shape; each user's items never to recommend (train and validation items).
        held_out: The same shape; the items to find. Users without any are not scored; users without training
            interactions get the most popular items from every baseline.
        seed: Seed of the baselines that draw random numbers (ALS).
        ks: List lengths of the metrics.
        progress: Whether to show a progress bar while scoring each baseline.
        batch_users: Users scored at once (each batch holds a dense ``[batch_users, n_items]`` score block).

    Returns:
        ``({name: RankingMetrics.compute() plus "seconds"}, {name: reason})`` for the baselines that ran and
        those skipped; ``seconds`` is the wall time of fitting and scoring (ranking and metrics excluded).
    """
    train, seen, held_out = (sparse.csr_matrix(matrix) for matrix in (train, seen, held_out))
    if not train.shape == seen.shape == held_out.shape:
        raise ValueError(f"train, seen and held_out must have one shape, got {train.shape}, {seen.shape}, "
                         f"{held_out.shape}")
    users = np.flatnonzero(np.diff(held_out.indptr) > 0)
    popularity = item_popularity(train)
    untrained = np.diff(train.indptr) == 0
    baselines: list[RankingBaseline] = [Popularity(), ItemKNN(), EASE(), ALS(seed=seed)]
    results: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    for baseline in baselines:
        start = time.perf_counter()
        try:
            baseline.fit(train)
        except BaselineSkipped as skip:
            skipped[baseline.name] = skip.reason
            continue
        seconds = time.perf_counter() - start
        metrics = RankingMetrics(popularity, ks)
        batches = [users[i : i + batch_users] for i in range(0, len(users), batch_users)]
        for batch in track(batches, f"scoring {baseline.name}", total=len(batches), enabled=progress):
            start = time.perf_counter()
            scores = baseline.scores(batch)
            seconds += time.perf_counter() - start
            cold = untrained[batch]  # no training history (a global time cut): predict's fallback, popularity
            if cold.any():
                scores[cold] = popularity
            metrics.update(scores, list(_rows(seen, batch)), list(_rows(held_out, batch)), users=batch)
        results[baseline.name] = {**metrics.compute(), "seconds": seconds}
    return results, skipped


def _rows(matrix: sparse.csr_matrix, users: np.ndarray) -> Iterator[np.ndarray]:
    """The column indices of each of ``users``' rows (views into the matrix)."""
    for user in users:
        yield matrix.indices[matrix.indptr[user] : matrix.indptr[user + 1]]


def _binary(train: Any) -> sparse.csr_matrix:
    """``train`` as a float32 CSR of ones where it stores an interaction (repeats merged first)."""
    matrix = sparse.csr_matrix(train, dtype=np.float32, copy=True)
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


class Popularity:
    """Every user gets the items with the most training interactions (distinct users per item)."""

    name = "popularity"

    def fit(self, train: sparse.csr_matrix) -> Popularity:
        self.counts = item_popularity(train).astype(np.float32)
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        return np.tile(self.counts, (len(users), 1))


class ItemKNN:
    """Item-based nearest neighbours with shrunk cosine similarity on the binarised training matrix.

    ``sim(i, j) = |U_i & U_j| / (sqrt(|U_i| |U_j|) + shrink)``, ``U_i`` being the users of item ``i``; each
    item keeps its ``neighbours`` most similar items (ties to the lower index) and a user scores an item by
    the summed similarity of their items to it. The co-occurrences are computed and pruned a block of items
    at a time, so memory stays near ``n_items * neighbours`` however large the catalogue.

    Args:
        neighbours: Similar items kept per item.
        shrink: Added to the cosine's denominator: pairs seen together by few users count less.
    """

    name = "item_knn"

    def __init__(self, neighbours: int = 100, shrink: float = 10.0):
        self.neighbours = neighbours
        self.shrink = shrink

    def fit(self, train: sparse.csr_matrix) -> ItemKNN:
        self.x = _binary(train)
        by_item = self.x.T.tocsr()
        norms = np.sqrt(np.diff(by_item.indptr)).astype(np.float64)
        # an item's row of co-occurrences has at most the summed history length of its users
        reach = np.minimum(by_item @ np.diff(self.x.indptr).astype(np.float64), self.x.shape[1])
        n_items = self.x.shape[1]
        parts = [self._block(by_item, norms, start, stop) for start, stop in _blocks(reach, KNN_BLOCK_ENTRIES)]
        counts, cols, values = (np.concatenate(part) for part in zip(*parts, strict=True)) if parts else \
            (np.zeros(n_items, np.int64), np.empty(0, np.int32), np.empty(0, np.float32))
        # built from its parts directly: going through (row, column) pairs would copy everything twice more
        indptr = np.concatenate([[0], np.cumsum(counts)])
        self.similarity = sparse.csr_matrix((values, cols, indptr), shape=(n_items, n_items))
        self.similarity.sort_indices()
        return self

    def _block(self, by_item: sparse.csr_matrix, norms: np.ndarray, start: int,
               stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The pruned similarity rows of items ``start..stop - 1``: (entries per row, columns, values)."""
        together = (by_item[start:stop] @ self.x).tocsr()
        together.sort_indices()
        rows = np.repeat(np.arange(start, stop), np.diff(together.indptr))
        cols = together.indices.astype(np.int64)
        values = together.data / (norms[rows] * norms[cols] + self.shrink)
        keep = cols != rows
        rows, cols, values = rows[keep], cols[keep], values[keep]
        # one stable sort: by row, then by similarity descending (similarities lie in (0, 1]), equal ones
        # keeping their column order
        order = np.argsort((rows - start) * 2.0 + (1.0 - values), kind="stable")
        rows, cols, values = rows[order], cols[order], values[order]
        first = np.searchsorted(rows, np.arange(start, stop))
        rank = np.arange(len(rows)) - first[rows - start]
        keep = rank < self.neighbours
        counts = np.bincount(rows[keep] - start, minlength=stop - start)
        return counts, cols[keep].astype(np.int32), values[keep].astype(np.float32)

    def scores(self, users: np.ndarray) -> np.ndarray:
        return (self.x[users] @ self.similarity).toarray()


def _blocks(sizes: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Consecutive ``(start, stop)`` ranges whose summed ``sizes`` stay within ``budget`` (one item at least)."""
    blocks, start, total = [], 0, 0.0
    for index, size in enumerate(sizes):
        if index > start and total + size > budget:
            blocks.append((start, index))
            start, total = index, 0.0
        total += size
    if start < len(sizes):
        blocks.append((start, len(sizes)))
    return blocks


class EASE:
    """Embarrassingly shallow autoencoder (Steck 2019): ``B = I - P / diag(P)``, ``P = (X'X + l2 I)^-1``.

    ``X`` is the binarised training matrix; ``B``'s diagonal is zero, so an item never predicts itself, and a
    user's scores are their row of ``X`` times ``B``. The inverse is a Cholesky factorisation done in place in
    float64, so the peak memory is one ``n_items x n_items`` float64 matrix plus its float32 copy.

    The inverse runs on one BLAS thread by default: on a machine busy with other work (or with the spinning
    threads of numpy's or torch's own pools), threaded OpenBLAS waits on its threads at every step; measured
    on 2 shared cores, 1700 items took 3-8 s threaded against 0.15 s on one thread, 5000 items 28 s against
    3.3 s. One thread costs about 3.5 minutes at 20,000 items; ``blas_threads=None`` keeps BLAS's own setting.

    Args:
        l2: Ridge penalty on the weights (larger for larger, denser data).
        max_items: Largest catalogue accepted; above it fitting raises :class:`BaselineSkipped`.
        blas_threads: BLAS threads of the inverse, or None for BLAS's default.
    """

    name = "ease"

    def __init__(self, l2: float = 500.0, max_items: int = 20_000, blas_threads: int | None = 1):
        self.l2 = l2
        self.max_items = max_items
        self.blas_threads = blas_threads

    def fit(self, train: sparse.csr_matrix) -> EASE:
        n_items = train.shape[1]
        if n_items > self.max_items:
            raise BaselineSkipped(self.name, f"{n_items} items, and its dense item x item matrix is only fitted "
                                  f"up to {self.max_items} items",
                                  hint="raise max_items if memory allows (12 bytes per entry)")
        from threadpoolctl import threadpool_limits

        self.x = _binary(train)
        gram = _gram(self.x)
        gram[np.diag_indices(n_items)] += self.l2
        with threadpool_limits(self.blas_threads, "blas"):
            inverse = _inverse_spd(gram)
        inverse /= -np.diag(inverse).copy()[None, :]
        inverse[np.diag_indices(n_items)] = 0.0
        self.weights = inverse.astype(np.float32)
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self.x[users] @ self.weights, dtype=np.float32)


def _gram(x: sparse.csr_matrix) -> np.ndarray:
    """``X'X`` as a dense float64 matrix, built a block of rows at a time."""
    by_item = x.T.tocsr()
    n_items = x.shape[1]
    gram = np.empty((n_items, n_items), dtype=np.float64)
    step = max(1, KNN_BLOCK_ENTRIES // max(n_items, 1))
    for start in range(0, n_items, step):
        gram[start : start + step] = (by_item[start : start + step] @ x).toarray()
    return gram


def _inverse_spd(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite C-ordered float64 matrix, overwriting it."""
    # the transpose is a Fortran-ordered view of the same (symmetric) matrix, so LAPACK works in place
    factor, info = lapack.dpotrf(matrix.T, lower=0, clean=0, overwrite_a=1)
    if info == 0:
        factor, info = lapack.dpotri(factor, lower=0, overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"the regularised Gram matrix is not positive definite (LAPACK info {info})")
    # LAPACK filled the Fortran upper triangle, which is the C-order lower one: mirror it a block at a time
    result = factor.T
    n = len(result)
    step = max(1, KNN_BLOCK_ENTRIES // max(n, 1))
    for start in range(0, n, step):
        stop = min(n, start + step)
        result[start:stop, stop:] = result[stop:, start:stop].T
        corner = result[start:stop, start:stop]
        corner[np.triu_indices(stop - start, 1)] = corner.T[np.triu_indices(stop - start, 1)]
    return result


class ALS:
    """implicit's alternating least squares on the training weights (confidence ``alpha * weight``).

    implicit's penalty is absolute while the confidences grow with ``alpha`` and the weights, so unless
    ``regularization`` is given it is :data:`ALS_REGULARIZATION_PER_CONFIDENCE` times the mean confidence of
    a training interaction (``alpha`` times the mean weight); ``chosen_regularization`` records it. Measured
    on generated logs of five shapes (a few hundred to 3000 users and items, 20 to 300 items per user), this
    ranked about twice as well (NDCG@10 0.38 against 0.18 on 1000 x 1700) as the small fixed penalties usual
    for large data (0.01 to 0.05), which overfit small data with 64 factors; twice the multiplier made the
    factors collapse to zero on some of them.

    Fitted with BLAS on one thread: implicit runs its own threads, and a threaded OpenBLAS under them is
    many times slower (implicit warns about it).

    Args:
        factors: Latent dimensions.
        regularization: L2 penalty of the factors, or None for the rule above.
        alpha: Confidence given per unit of interaction weight.
        iterations: Alternating passes.
        seed: Seed of the initial factors.
    """

    name = "als"

    def __init__(self, factors: int = 64, regularization: float | None = None, alpha: float = 10.0,
                 iterations: int = 15, seed: int = 0):
        self.factors, self.regularization, self.alpha = factors, regularization, alpha
        self.iterations, self.seed = iterations, seed

    def fit(self, train: sparse.csr_matrix) -> ALS:
        try:
            from implicit.cpu.als import AlternatingLeastSquares
        except ImportError as error:
            raise BaselineSkipped(self.name, f"needs the package implicit ({INSTALL_HINT})",
                                  hint=INSTALL_HINT) from error
        from threadpoolctl import threadpool_limits

        weights = sparse.csr_matrix(train, dtype=np.float32, copy=True)  # implicit wants csr_matrix, not csr_array
        weights.sum_duplicates()
        mean_weight = float(weights.data.mean()) if weights.nnz else 1.0
        self.chosen_regularization = self.regularization if self.regularization is not None else \
            ALS_REGULARIZATION_PER_CONFIDENCE * self.alpha * mean_weight
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(factors=self.factors, regularization=self.chosen_regularization,
                                            alpha=self.alpha, iterations=self.iterations,
                                            random_state=self.seed)
            model.fit(weights, show_progress=False)
        self.user_factors = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float32)
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors[users] @ self.item_factors.T
