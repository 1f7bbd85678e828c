"""Top-N lists from a recommender's scores: seen items and the filters of the prediction left out, the
popularity fallback applied, each item with its title, genres and score."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from torchworks.tasks.recommendation.dataset import Queries
from torchworks.tasks.recommendation.embeddings import UNTRAINED_SCORE
from torchworks.tasks.recommendation.queries import Query, derived, positions, resolve_queries

UNSCORED = UNTRAINED_SCORE / 2  # a score this low: an item the model was not trained on (plus a user's offset)


def recommendation_inputs(inputs: Sequence[Any], state: dict[str, Any]) -> tuple[Queries, list[Query]]:
    """The model inputs of each query, and the queries as ids (what the records are made from)."""
    queries = resolve_queries(list(inputs), state)
    from torchworks.tasks.recommendation.models import MODEL_INPUTS

    length = None if "user" in MODEL_INPUTS[state["model"]] else state["history_length"]
    return Queries([query.model_input(length, len(state["users"])) for query in queries]), queries


def allowed_items(state: dict[str, Any]) -> np.ndarray:
    """Which items a list may hold under the prediction's ``include``, ``exclude`` and ``categories``."""
    n_items = len(state["items"])
    allowed = np.ones(n_items, dtype=bool)
    index = positions(state["items"])
    if state.get("include"):
        allowed[:] = False
        allowed[[index[item] for item in state["include"] if item in index]] = True
    if state.get("exclude"):
        allowed[[index[item] for item in state["exclude"] if item in index]] = False
    if state.get("categories"):
        wanted = {category.lower() for category in state["categories"]}
        allowed &= np.array([bool(wanted & {genre.lower() for genre in genres}) for genres in state["genres"]])
    return allowed


def recommendation_records(outputs: torch.Tensor | list[dict[str, np.ndarray]], queries: list[Any],
                           state: dict[str, Any], similarity: ItemSimilarity | None = None) -> list[dict[str, Any]]:
    """One record per query: ``input``, ``user``, ``known_user``, ``fallback``, ``notes`` and
    ``recommendations`` (rank, item, title, genres, score), at most ``k`` of them.

    ``outputs`` are the model's scores, ``[N, n_items]``, or the item index's candidates, one
    ``{"items", "scores"}`` per query, best first (:class:`~.retrieval.IndexedRanking`); queries that are not
    :class:`Query` (the contract suite's ids) are ranked as they come, nothing left out. With ``similarity``,
    a ``similar=`` query lists the items whose vectors are nearest its item's (cosine) instead.
    """
    allowed = allowed_items(state)
    popularity = derived(state["popularity"], "array", lambda counts: np.asarray(counts, dtype=np.float64))
    k = int(state.get("k", 10))
    if isinstance(outputs, torch.Tensor):
        outputs = outputs.float().numpy()
    records = []
    for row, query in zip(outputs, queries):
        if not isinstance(query, Query):
            query = Query(str(query), None, len(state["users"]))
        if query.fallback == "popularity":
            ranked = [(int(item), popularity[item]) for item in _top(popularity, allowed, query.exclude, k)]
        elif query.similar is not None and similarity is not None:
            scores = similarity(query.similar)
            ranked = [(int(item), scores[item]) for item in _top(scores, allowed & similarity.scored, query.exclude,
                                                                 k)]
        elif isinstance(row, dict):
            ranked = _top_candidates(row, allowed, query, k)
        else:  # items the model cannot score (never trained on) are never listed
            scores = np.asarray(row, dtype=np.float64)
            ranked = [(int(item), scores[item]) for item in _top(scores, allowed & (scores > UNSCORED), query.exclude,
                                                                 k)]
        records.append(_record(query, ranked, state))
    return records


class ItemSimilarity:
    """The cosine between items' vectors in a recommender's item space (its ``item_vectors()``, computed once: a
    two-tower model runs its tower over the whole catalogue for them), for similar items and explanations.

    Attributes:
        scored: Which items the model scores at all (the others' vectors are untrained noise).
    """

    def __init__(self, model: torch.nn.Module):
        with torch.inference_mode():
            self.vectors = model.item_vectors().detach().float().cpu()
            scored = model.item_table()[2] if hasattr(model, "item_table") else model.trained
        self.norms = self.vectors.norm(dim=1).clamp(min=1e-12)
        self.scored = scored.cpu().numpy().astype(bool)

    def __call__(self, item: int) -> np.ndarray:
        """``[n_items]``: every item's cosine with ``item``."""
        return self.between(slice(None), item)

    def between(self, items: Sequence[int] | slice, item: int) -> np.ndarray:
        """The cosines of ``items`` with ``item``."""
        with torch.inference_mode():
            return ((self.vectors[items] @ self.vectors[item]) / (self.norms[items] * self.norms[item])).double().numpy()


def _top(scores: np.ndarray, allowed: np.ndarray, exclude: set[int], k: int) -> np.ndarray:
    """The ``k`` best allowed item indices, best first (ties: lower index first)."""
    from torchworks.tasks.recommendation.ranking import top_items

    barred = np.flatnonzero(~allowed)
    if exclude:
        barred = np.union1d(barred, np.fromiter(exclude, dtype=np.int64))
    top = top_items(scores[None, :], [barred.astype(np.int64)], k)[0]
    return top[top >= 0]


def _top_candidates(candidates: dict[str, np.ndarray], allowed: np.ndarray, query: Query,
                    k: int) -> list[tuple[int, float]]:
    """The ``k`` best allowed items among the index's candidates (a note when fewer remain than asked for)."""
    items, scores = candidates["items"], candidates["scores"]
    keep = allowed[items]
    if query.exclude:
        keep &= ~np.isin(items, np.fromiter(query.exclude, dtype=np.int64))
    items, scores = items[keep][:k], scores[keep][:k]
    if len(items) < min(k, int(allowed.sum()) - len(query.exclude)):
        query.notes.append(f"the item index's {len(candidates['items'])} nearest items hold only {len(items)} this "
                           "list may show: a narrow filter or a long list is better served by a model trained with "
                           "item_index=none")
    return [(int(item), float(score)) for item, score in zip(items, scores)]


def _record(query: Query, ranked: list[tuple[int, float]], state: dict[str, Any]) -> dict[str, Any]:
    items, titles, genres = state["items"], state["titles"], state["genres"]
    return {
        "input": query.input,
        "user": query.user,
        "known_user": query.user is not None and query.user_index < len(state["users"]),
        "fallback": query.fallback,
        "notes": list(query.notes),
        "recommendations": [{"rank": rank, "item": items[item], "title": titles[item], "genres": list(genres[item]),
                             "score": round(float(score), 6)} for rank, (item, score) in enumerate(ranked, start=1)],
    }


def recommendation_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """CSV rows of one record: one per recommended item (a record with an error, or none, keeps one row)."""
    common = {"input": record.get("input"), "user": record.get("user"), "fallback": record.get("fallback") or ""}
    if "error" in record or not record.get("recommendations"):
        return [{**common, "error": record.get("error", ""), "notes": "; ".join(record.get("notes", []))}]
    return [{**common, "rank": entry["rank"], "item": entry["item"], "title": entry["title"],
             "genres": "|".join(entry["genres"]), "score": entry["score"]} for entry in record["recommendations"]]
