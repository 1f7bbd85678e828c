"""Rating baselines for explicit feedback, fitted on the same training ratings as the network and scored by
RMSE and MAE on the same test pairs: the global ``mean``, ``biases`` (mean plus regularised user and item
offsets) and ``svd`` (biased matrix factorisation, the model Surprise calls SVD, fitted by alternating least
squares)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from torchworks.tasks.recommendation.ranking import rating_errors

#: Most entries of the per-user normal equations the rating factorisation builds at once.
SOLVE_BLOCK_ENTRIES = 1 << 23
#: Factor penalties :class:`SVD` chooses from (per rating; above about 0.2 the factors usually vanish).
SVD_L2_GRID: tuple[float, ...] = (0.05, 0.075, 0.1, 0.15, 0.2, 0.3)
#: Share of the training ratings :class:`SVD` holds out to choose its penalty.
SVD_VALIDATION_SHARE = 0.1


def rating_baselines(train: sparse.csr_matrix, test_users: np.ndarray, test_items: np.ndarray,
                     test_ratings: np.ndarray, *, seed: int = 0) -> dict[str, dict]:
    """RMSE and MAE of ``mean``, ``biases`` and ``svd``, fitted on the training ratings, on the test pairs.

    Args:
        train: ``[n_users, n_items]`` CSR whose stored values are the training ratings.
        test_users, test_items: Index arrays of the test pairs.
        test_ratings: Their true ratings.
        seed: Seed of the factorisation (its validation slice and initial factors).

    Returns:
        ``{"mean": {"rmse", "mae"}, "biases": {...}, "svd": {...}}``.
    """
    test_users, test_items = np.asarray(test_users, dtype=np.int64), np.asarray(test_items, dtype=np.int64)
    if not len(test_users) == len(test_items) == len(test_ratings):
        raise ValueError(f"test users, items and ratings must have one length, got {len(test_users)}, "
                         f"{len(test_items)} and {len(test_ratings)}")
    biases = Biases().fit(train)
    mean = np.full(len(test_ratings), biases.mean)
    return {
        "mean": rating_errors(mean, test_ratings),
        "biases": rating_errors(biases.predict_ratings(test_users, test_items), test_ratings),
        "svd": rating_errors(SVD(seed=seed).fit(train).predict_ratings(test_users, test_items), test_ratings),
    }


class _Triples:
    """The stored ratings of a ``[n_users, n_items]`` matrix as parallel (user, item, rating) arrays."""

    def __init__(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray, shape: tuple[int, int]):
        self.users, self.items, self.ratings, self.shape = users, items, ratings, shape

    @classmethod
    def of(cls, train: Any) -> _Triples:
        matrix = sparse.coo_matrix(train)
        if not matrix.nnz:
            raise ValueError("the training ratings matrix is empty")
        return cls(matrix.row.astype(np.int64), matrix.col.astype(np.int64), matrix.data.astype(np.float64),
                   matrix.shape)

    def subset(self, keep: np.ndarray) -> _Triples:
        return _Triples(self.users[keep], self.items[keep], self.ratings[keep], self.shape)


class Biases:
    """Global mean plus regularised user and item offsets, ``r = mu + b_u + b_i``.

    Fitted by alternating closed-form ridge solutions (each offset is the shrunk mean of what the others
    leave unexplained); predictions are clipped to the training ratings' range.

    Args:
        l2: Pseudo-ratings of zero offset each user and item starts with (shrinks rare ones to the mean).
        passes: Alternations.
    """

    name = "biases"

    def __init__(self, l2: float = 5.0, passes: int = 10):
        self.l2, self.passes = l2, passes

    def fit(self, train: sparse.csr_matrix) -> Biases:
        return self.fit_triples(_Triples.of(train))

    def fit_triples(self, data: _Triples) -> Biases:
        users, items, ratings = data.users, data.items, data.ratings
        n_users, n_items = data.shape
        self.mean = float(ratings.mean())
        self.low, self.high = float(ratings.min()), float(ratings.max())
        self.user_bias, self.item_bias = np.zeros(n_users), np.zeros(n_items)
        user_counts = np.bincount(users, minlength=n_users) + self.l2
        item_counts = np.bincount(items, minlength=n_items) + self.l2
        for _ in range(self.passes):
            residual = ratings - self.mean - self.item_bias[items]
            self.user_bias = np.bincount(users, residual, minlength=n_users) / user_counts
            residual = ratings - self.mean - self.user_bias[users]
            self.item_bias = np.bincount(items, residual, minlength=n_items) / item_counts
        return self

    def predict_ratings(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        predicted = self.mean + self.user_bias[users] + self.item_bias[items]
        return np.clip(predicted, self.low, self.high)


class SVD:
    """Biased matrix factorisation, ``r = mu + b_u + b_i + p_u . q_i``: the model Surprise calls SVD.

    Fitted by alternating least squares rather than stochastic gradient descent: with the item side fixed,
    each user's ``(b_u, p_u)`` is one small ridge regression on the user's ratings (and the same for items),
    solved for all users at once with batched normal equations. The factors' penalty is ``l2`` times each
    user's or item's number of ratings (ALS-WR), the offsets' is ``bias_l2`` as in :class:`Biases`, which
    also gives the starting offsets; the factors start as small random numbers.

    The right ``l2`` depends on how much structure the ratings hold beyond the offsets, and too small a value
    overfits badly while too large a one shrinks every factor to zero (leaving :class:`Biases`). So unless
    ``l2`` is given, it is chosen from :data:`SVD_L2_GRID` by the RMSE on a seeded
    :data:`SVD_VALIDATION_SHARE` of the training ratings, then the model is refitted on all of them
    (``chosen_l2`` records the value). Predictions are clipped to the training range.

    Args:
        factors: Latent dimensions.
        l2: Factor penalty per rating, or None to choose it.
        bias_l2: Offset penalty.
        iterations: Alternating passes (each solves every user, then every item).
        seed: Seed of the validation slice and of the initial factors.
    """

    name = "svd"

    def __init__(self, factors: int = 20, l2: float | None = None, bias_l2: float = 5.0, iterations: int = 10,
                 seed: int = 0):
        self.factors, self.l2, self.bias_l2, self.iterations, self.seed = factors, l2, bias_l2, iterations, seed

    def fit(self, train: sparse.csr_matrix) -> SVD:
        data = _Triples.of(train)
        self.chosen_l2 = self.l2 if self.l2 is not None else self._choose_l2(data)
        return self._fit(data, self.chosen_l2)

    def _choose_l2(self, data: _Triples) -> float:
        held = np.random.default_rng(self.seed).random(len(data.ratings)) < SVD_VALIDATION_SHARE
        fitted, checked = data.subset(~held), data.subset(held)
        if not len(checked.ratings) or not len(fitted.ratings):
            return SVD_L2_GRID[len(SVD_L2_GRID) // 2]
        errors = [rating_errors(self._fit(fitted, l2).predict_ratings(checked.users, checked.items),
                                checked.ratings)["rmse"] for l2 in SVD_L2_GRID]
        return SVD_L2_GRID[int(np.argmin(errors))]

    def _fit(self, data: _Triples, l2: float) -> SVD:
        start = Biases(self.bias_l2).fit_triples(data)
        self.mean, self.low, self.high = start.mean, start.low, start.high
        self.user_bias, self.item_bias = start.user_bias, start.item_bias
        rng = np.random.default_rng(self.seed)
        self.user_factors = rng.normal(0.0, 0.1, (data.shape[0], self.factors))
        self.item_factors = rng.normal(0.0, 0.1, (data.shape[1], self.factors))
        by_user = _RatingsBy(data.users, data.items, data.shape)
        by_item = _RatingsBy(data.items, data.users, data.shape[::-1])
        for _ in range(self.iterations):
            target = data.ratings - self.mean - self.item_bias[data.items]
            self.user_bias, self.user_factors = by_user.solve(target, self.item_factors, self.bias_l2, l2)
            target = data.ratings - self.mean - self.user_bias[data.users]
            self.item_bias, self.item_factors = by_item.solve(target, self.user_factors, self.bias_l2, l2)
        return self

    def predict_ratings(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        predicted = self.mean + self.user_bias[users] + self.item_bias[items]
        predicted += np.einsum("nk,nk->n", self.user_factors[users], self.item_factors[items])
        return np.clip(predicted, self.low, self.high)


class _RatingsBy:
    """The ratings grouped by one side (users, or items), to solve that side's ridge regressions together."""

    def __init__(self, owners: np.ndarray, others: np.ndarray, shape: tuple[int, int]):
        self.order = np.argsort(owners, kind="stable")
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(owners, minlength=shape[0]))])
        self.others = others[self.order]
        self.shape = shape
        self.indicator = self._matrix(np.ones(len(owners)))

    def _matrix(self, values: np.ndarray) -> sparse.csr_matrix:
        return sparse.csr_matrix((values, self.others, self.indptr), shape=self.shape)

    def solve(self, target: np.ndarray, other_factors: np.ndarray, bias_l2: float,
              l2: float) -> tuple[np.ndarray, np.ndarray]:
        """Each owner's ridge solution ``(bias, factors)`` of ``target`` (in the caller's rating order).

        The bias is penalised by ``bias_l2``, the factors by ``l2`` times the owner's number of ratings.
        """
        features = np.hstack([np.ones((len(other_factors), 1)), other_factors])
        dim = features.shape[1]
        outer = np.einsum("nd,ne->nde", features, features).reshape(len(features), dim * dim)
        rhs = self._matrix(target[self.order]) @ features
        penalty = np.full((self.shape[0], dim), float(bias_l2))
        penalty[:, 1:] = l2 * np.maximum(np.diff(self.indptr), 1)[:, None]
        solution = np.empty_like(rhs)
        step = max(1, SOLVE_BLOCK_ENTRIES // (dim * dim))
        for start in range(0, self.shape[0], step):
            stop = min(self.shape[0], start + step)
            normal = (self.indicator[start:stop] @ outer).reshape(-1, dim, dim)
            normal[:, np.arange(dim), np.arange(dim)] += penalty[start:stop]
            solution[start:stop] = np.linalg.solve(normal, rhs[start:stop, :, None])[..., 0]
        return solution[:, 0], solution[:, 1:]
