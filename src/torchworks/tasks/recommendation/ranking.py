"""Full-ranking metrics of recommendations: every item of the catalogue is ranked for every user (no sampled
negatives), the items the user was already seen with are never recommended, and the held-out items are the
ones to find.

- :func:`top_items` turns a batch of scores into each user's best ``k`` unseen items, deterministically.
- :class:`RankingMetrics` accumulates hit rate, recall, NDCG and MAP at each K over batches of users, plus
  catalogue coverage and popularity bias of the shortest lists, and keeps the per-user values for segments.
- :func:`rating_errors` scores predicted ratings (explicit feedback).

Users and items are integer indices; item popularity is the number of training interactions of each item
(see :func:`item_popularity`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy import sparse

from torchworks.errors import ConfigError, did_you_mean

#: The list lengths every ranking metric is reported at.
KS: tuple[int, ...] = (10, 20)
#: Most score entries :func:`top_items` selects from at once (rows are taken in blocks of this many entries).
BLOCK_ENTRIES = 1 << 25
#: Most candidates (rows times the candidates of each) :func:`top_items` filters at once.
CANDIDATE_ENTRIES = 1 << 22
_PER_USER = ("hr", "recall", "ndcg", "map")


def item_popularity(train: sparse.spmatrix | sparse.sparray) -> np.ndarray:
    """Training interactions per item (float64 ``[n_items]``): the stored entries of each column of ``train``.

    A user who interacted with an item several times (a weight above one) counts once, as one (user, item)
    pair: the same pairs the ranking metrics look for.
    """
    matrix = sparse.csc_array(train)
    matrix.sum_duplicates()
    return np.diff(matrix.indptr).astype(np.float64)


def top_items(scores: Any, seen_rows: Sequence[np.ndarray], k: int) -> np.ndarray:
    """Each row's ``k`` best-scored items that are not in its seen list, best first.

    Ties are broken towards the lower item index, so the answer never depends on the hardware or the number
    of threads. A NaN score ranks below every number, -inf included. The scores are never copied: each row
    is searched (``torch.topk``, on the scores' device) for ``k`` plus its number of seen items, plus one to
    tell whether the cut falls inside a tie; the seen ones are dropped afterwards, all rows at once. Only a
    row whose cut falls inside a tie, or that holds NaNs, is looked at again on its own.

    Args:
        scores: Float array or tensor ``[B, N]`` (numpy, or torch on any device); higher is better.
        seen_rows: ``B`` arrays of item indices (int, within ``0..N-1``) never to return for that row.
        k: How many items per row.

    Returns:
        int64 ``[B, min(k, N)]`` item indices; where a row has fewer than ``k`` unseen items, the trailing
        entries are -1.

    Raises:
        ValueError: When ``scores`` is not 2-D, ``seen_rows`` does not have one entry per row, a seen item is
            out of range, or ``k < 1``.
    """
    values = _as_tensor(scores)
    if values.ndim != 2 or len(seen_rows) != values.shape[0] or k < 1:
        raise ValueError(f"top_items needs scores [B, N], B seen rows and k >= 1, got scores "
                         f"{list(values.shape)}, {len(seen_rows)} seen rows and k={k}")
    n_rows, n_items = values.shape
    k = min(k, n_items)
    seen_keys = _seen_keys(seen_rows, n_items)
    n_seen = np.bincount(seen_keys // max(n_items, 1), minlength=n_rows)
    width = min(n_items, k + int(n_seen.max(initial=0)) + 1)
    block = max(1, min(BLOCK_ENTRIES // max(n_items, 1), CANDIDATE_ENTRIES // max(width, 1)))
    out = np.full((n_rows, k), -1, dtype=np.int64)
    for start in range(0, n_rows, block):
        stop = min(n_rows, start + block)
        low, high = np.searchsorted(seen_keys, [start * n_items, stop * n_items])
        out[start:stop] = _top_block(values[start:stop], seen_keys[low:high] - start * n_items,
                                     n_seen[start:stop], k)
    return out


def _as_tensor(scores: Any) -> torch.Tensor:
    values = scores.detach() if isinstance(scores, torch.Tensor) else torch.from_numpy(np.asarray(scores))
    if not values.is_floating_point():
        values = values.to(torch.float32)
    return values


def _seen_keys(seen_rows: Sequence[np.ndarray], n_items: int) -> np.ndarray:
    """The seen (row, item) pairs as sorted distinct integers ``row * n_items + item``."""
    lengths = np.fromiter((len(row) for row in seen_rows), dtype=np.int64, count=len(seen_rows))
    if not lengths.sum():
        return np.empty(0, dtype=np.int64)
    items = np.concatenate([np.asarray(row, dtype=np.int64).ravel() for row in seen_rows])
    if items.min() < 0 or items.max() >= n_items:
        bad = int(items[(items < 0) | (items >= n_items)][0])
        raise ValueError(f"seen items must lie in 0..{n_items - 1}, got {bad}")
    return _sorted_distinct(np.repeat(np.arange(len(seen_rows)), lengths) * n_items + items)


def _sorted_distinct(keys: np.ndarray) -> np.ndarray:
    """``np.unique(keys)`` by sorting only (numpy's unique hashes first, several times slower on int64)."""
    keys = np.sort(keys)
    return keys[np.concatenate([[True], keys[1:] != keys[:-1]])] if len(keys) else keys


def _top_block(values: torch.Tensor, seen_keys: np.ndarray, n_seen: np.ndarray, k: int) -> np.ndarray:
    """:func:`top_items` of a block of rows: one ``topk`` call, then the seen items dropped with array ops."""
    n_rows, n_items = values.shape
    width = min(n_items, k + int(n_seen.max(initial=0)) + 1)
    best_values, best_items = torch.topk(values, width, dim=1, sorted=True)
    if best_values.dtype in (torch.float16, torch.bfloat16):  # numpy has no bfloat16
        best_values = best_values.to(torch.float32)
    best_values, best_items = best_values.cpu().numpy(), best_items.cpu().numpy()
    row_ids = np.arange(n_rows)[:, None]
    keep = ~np.isin(row_ids * n_items + best_items, seen_keys)
    wanted = np.minimum(k, n_items - n_seen)[:, None]
    rank = np.cumsum(keep, axis=1) - 1  # place among the row's unseen candidates
    chosen = keep & (rank < wanted)
    cut, cut_known = _value_at(best_values, keep & (rank == wanted - 1))
    after_cut, has_after = _value_at(best_values, keep & (rank == wanted))
    rows, columns = np.nonzero(chosen)
    out = np.full((n_rows, k), -1, dtype=np.int64)
    scored = np.full((n_rows, k), -np.inf, dtype=np.float64)
    out[rows, rank[rows, columns]] = best_items[rows, columns]
    scored[rows, rank[rows, columns]] = best_values[rows, columns]
    # best first, equal scores by index, the -1 padding last
    order = np.lexsort((out, -scored, out < 0), axis=1)
    out = np.take_along_axis(out, order, axis=1)
    has_nan = (np.isnan(best_values) & chosen).any(axis=1)
    for row in np.flatnonzero(has_nan | (has_after & (after_cut == cut))):
        excluded = seen_keys[np.searchsorted(seen_keys, row * n_items):np.searchsorted(seen_keys, (row + 1) * n_items)]
        row_values = values[row].cpu()
        if row_values.dtype in (torch.float16, torch.bfloat16):
            row_values = row_values.to(torch.float32)
        # NaNs rank first in topk, so with any the cut among numbers lies further down: find it afresh
        exact_cut = None if has_nan[row] or not cut_known[row] else float(cut[row])
        out[row] = -1
        out[row, : wanted[row, 0]] = _top_row_exact(row_values.numpy(), excluded - row * n_items, int(wanted[row, 0]),
                                                    exact_cut)
    return out


def _value_at(values: np.ndarray, where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the value at the (at most one) True place of ``where``, and whether there was one."""
    found = where.any(axis=1)
    picked = np.full(len(values), np.nan, dtype=np.float64)
    picked[found] = values[where]
    return picked, found


def _top_row_exact(row: np.ndarray, excluded: np.ndarray, wanted: int, cut: float | None) -> np.ndarray:
    """The ``wanted`` best allowed items of one row, best first, when the cut falls in a tie or NaNs are about.

    Every allowed item scoring above ``cut`` (the ``wanted``-th best allowed number; found here when None) is
    in, and those tied at that value fill the remaining places in index order; NaN items come last, in index
    order. This is numpy: a few whole-row passes, which numpy makes several times faster than torch on a
    busy CPU.
    """
    allowed = np.ones(len(row), dtype=bool)
    allowed[excluded] = False
    nan = np.isnan(row)
    numbers = allowed & ~nan
    n_numbers = int(numbers.sum())
    if n_numbers < wanted:
        chosen = np.flatnonzero(numbers)
        tail = np.flatnonzero(allowed & nan)[: wanted - n_numbers]
    else:
        if cut is None:
            masked = np.where(numbers, row, -np.inf)
            cut = np.partition(masked, len(row) - wanted)[len(row) - wanted]
        above = np.flatnonzero((row > cut) & numbers)
        chosen = np.concatenate([above, np.flatnonzero((row == cut) & numbers)[: wanted - len(above)]])
        tail = np.empty(0, dtype=np.int64)
    ordered = chosen[np.lexsort((chosen, -row[chosen]))]
    return np.concatenate([ordered, tail])


class RankingMetrics:
    """Streaming full-ranking metrics over batches of users.

    For each K in ``ks``: ``hr@K`` (share of users with at least one held-out item in their top K),
    ``recall@K`` (hits in the top K over the user's number of held-out items), ``ndcg@K`` (binary gains,
    ``log2(rank + 1)`` discount, ideal DCG over ``min(K, positives)`` hits) and ``map@K`` (precision at each
    hit's rank, summed and divided by ``min(K, positives)``); each is a mean over users. At the shortest K:
    ``coverage`` (distinct items in anyone's list over the catalogue size), ``mean_rec_popularity`` (mean
    training popularity of the listed items) and ``popularity_bias`` (that over the catalogue's mean
    popularity: 1.0 is no bias, above 1 favours popular items). ``users`` is how many users were scored;
    users without held-out items are skipped.

    Args:
        item_popularity: Training interactions per item ``[n_items]`` (see :func:`item_popularity`); its
            length is the catalogue size.
        ks: List lengths, e.g. ``(10, 20)``.
    """

    def __init__(self, item_popularity: np.ndarray, ks: tuple[int, ...] = KS):
        if not ks or min(ks) < 1:
            raise ValueError(f"ks must be positive list lengths, got {ks}")
        self.ks = tuple(sorted(set(int(k) for k in ks)))
        self.popularity = np.asarray(item_popularity, dtype=np.float64)
        self.n_items = len(self.popularity)
        self.reset()

    def reset(self) -> None:
        """Forget every user seen so far."""
        self._users: list[np.ndarray] = []
        self._values: dict[str, list[np.ndarray]] = {name: [] for name in self.metric_names()}
        self._recommended = np.zeros(self.n_items, dtype=bool)
        self._popularity_sum = 0.0
        self._listed = 0
        self._rows_seen = 0

    def metric_names(self) -> list[str]:
        """The per-user metrics (what :meth:`per_user` accepts): ``hr@10``, ``recall@10``..."""
        return [f"{metric}@{k}" for k in self.ks for metric in _PER_USER]

    def update(self, scores: Any, seen_rows: Sequence[np.ndarray], positive_rows: Sequence[np.ndarray],
               users: np.ndarray | None = None) -> None:
        """Rank a batch of users' scores (seen items masked) and count them.

        Args:
            scores: ``[B, n_items]`` numpy array or torch tensor, higher is better.
            seen_rows: Per row, the items never to recommend (train and validation items).
            positive_rows: Per row, the held-out items to find; rows with none are skipped.
            users: The rows' user indices, for :meth:`per_user` (default: their order over all updates).
        """
        self.update_top(top_items(scores, seen_rows, max(self.ks)), positive_rows, users)

    def update_top(self, top: np.ndarray, positive_rows: Sequence[np.ndarray],
                   users: np.ndarray | None = None) -> None:
        """Count a batch of users already ranked: ``top`` int ``[B, >= max(ks)]`` items best first, -1 = none.

        Lists shorter than ``max(ks)`` (a catalogue smaller than K) count as padded with -1.
        """
        top = np.asarray(top, dtype=np.int64)
        if top.ndim != 2 or len(positive_rows) != top.shape[0]:
            raise ValueError(f"update_top needs top [B, K] and B positive rows, got top {list(top.shape)} and "
                             f"{len(positive_rows)} positive rows")
        if users is None:
            users = np.arange(self._rows_seen, self._rows_seen + top.shape[0])
        self._rows_seen += top.shape[0]
        n_positives, hits = self._hits(top, positive_rows)
        scored = n_positives > 0
        if not scored.any():
            return
        hits, n_positives, top = hits[scored], n_positives[scored], top[scored]
        self._users.append(np.asarray(users, dtype=np.int64)[scored])
        for k in self.ks:
            for name, values in _list_metrics(hits[:, :k], n_positives, k).items():
                self._values[f"{name}@{k}"].append(values)
        listed = top[:, : min(self.ks)]
        listed = listed[listed >= 0]
        self._recommended[listed] = True
        self._popularity_sum += float(self.popularity[listed].sum())
        self._listed += listed.size

    def _hits(self, top: np.ndarray, positive_rows: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Each row's number of distinct positives and whether each of its top ``max(ks)`` is one of them."""
        depth = max(self.ks)
        if top.shape[1] < depth:
            top = np.pad(top, ((0, 0), (0, depth - top.shape[1])), constant_values=-1)
        top = top[:, :depth]
        lengths = np.array([len(row) for row in positive_rows], dtype=np.int64)
        row_of = np.repeat(np.arange(len(positive_rows)), lengths)
        items = np.concatenate([np.asarray(row, dtype=np.int64) for row in positive_rows]) if lengths.sum() else \
            np.empty(0, dtype=np.int64)
        # (row, item) pairs as one integer each, so a whole batch is matched in one isin
        positive_keys = _sorted_distinct(row_of * self.n_items + items)
        n_positives = np.bincount(positive_keys // self.n_items, minlength=len(positive_rows))
        top_keys = np.arange(len(top))[:, None] * self.n_items + top
        hits = (top >= 0) & np.isin(top_keys, positive_keys)
        return n_positives, hits

    def compute(self) -> dict[str, float]:
        """Every metric as a Python float (``users`` an int); NaN metrics when no user was scored."""
        result: dict[str, Any] = {}
        for name in self.metric_names():
            values = self._values[name]
            result[name] = float(np.concatenate(values).mean()) if values else float("nan")
        mean_listed = self._popularity_sum / self._listed if self._listed else float("nan")
        mean_catalogue = float(self.popularity.mean()) if self.n_items else float("nan")
        result["coverage"] = float(self._recommended.sum() / self.n_items) if self._users else float("nan")
        result["popularity_bias"] = mean_listed / mean_catalogue if mean_catalogue > 0 else float("nan")
        result["mean_rec_popularity"] = float(mean_listed)
        result["users"] = int(sum(len(users) for users in self._users))
        return result

    def per_user(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(users, values)`` of one per-user metric (``"ndcg@10"``...), for breakdowns by user segment.

        Raises:
            ConfigError: When ``name`` is not one of :meth:`metric_names`.
        """
        if name not in self._values:
            raise ConfigError(f"unknown per-user ranking metric '{name}'", expected="one of "
                              + ", ".join(self.metric_names()), got=name, hint=did_you_mean(name, self._values))
        if not self._users:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        return np.concatenate(self._users), np.concatenate(self._values[name])


def _list_metrics(hits: np.ndarray, n_positives: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """hr, recall, ndcg and map of each row of ``hits`` (bool ``[B, k]``) given its number of positives."""
    ranks = np.arange(1, k + 1)
    discounts = 1.0 / np.log2(ranks + 1)
    n_hits = hits.sum(axis=1)
    reachable = np.minimum(n_positives, k)
    ideal = np.cumsum(discounts)[reachable - 1]
    precision_at_hits = np.cumsum(hits, axis=1) / ranks * hits
    return {
        "hr": (n_hits > 0).astype(np.float64),
        "recall": n_hits / n_positives,
        "ndcg": (hits * discounts).sum(axis=1) / ideal,
        "map": precision_at_hits.sum(axis=1) / reachable,
    }


def rating_errors(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """Root mean squared and mean absolute error of predicted ratings: ``{"rmse", "mae"}``.

    Raises:
        ValueError: When the two do not have the same, non-zero, number of ratings.
    """
    predicted = np.asarray(predicted, dtype=np.float64).ravel()
    actual = np.asarray(actual, dtype=np.float64).ravel()
    if predicted.shape != actual.shape or not len(actual):
        raise ValueError(f"rating_errors needs as many predictions as ratings (at least one), got "
                         f"{len(predicted)} and {len(actual)}")
    error = predicted - actual
    return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}
