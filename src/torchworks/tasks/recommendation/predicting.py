"""Top-N lists from a recommender's scores: seen items and the filters of the prediction left out, the
popularity fallback applied, each item with its title, genres and score."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from torchworks.tasks.recommendation.dataset import Queries
from torchworks.tasks.recommendation.queries import Query, resolve_queries


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
    index = {item: position for position, item in enumerate(state["items"])}
    if state.get("include"):
        allowed[:] = False
        allowed[[index[item] for item in state["include"] if item in index]] = True
    if state.get("exclude"):
        allowed[[index[item] for item in state["exclude"] if item in index]] = False
    if state.get("categories"):
        wanted = {category.lower() for category in state["categories"]}
        allowed &= np.array([bool(wanted & {genre.lower() for genre in genres}) for genres in state["genres"]])
    return allowed


def recommendation_records(outputs: torch.Tensor, queries: list[Any], state: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per query: ``input``, ``user``, ``known_user``, ``fallback``, ``notes`` and
    ``recommendations`` (rank, item, title, genres, score), at most ``k`` of them.

    ``outputs`` are the model's scores, ``[N, n_items]``; queries that are not :class:`Query` (the
    contract suite's ids) are ranked as they come, nothing left out.
    """
    scores = outputs.float().numpy() if isinstance(outputs, torch.Tensor) else np.asarray(outputs, dtype=np.float32)
    allowed = allowed_items(state)
    popularity = np.asarray(state["popularity"], dtype=np.float64)
    records = []
    for row, query in zip(scores, queries):
        if not isinstance(query, Query):
            query = Query(str(query), None, len(state["users"]))
        ranked = popularity if query.fallback == "popularity" else row.astype(np.float64)
        records.append(_record(query, _top(ranked, allowed, query.exclude, int(state.get("k", 10))), ranked, state))
    return records


def _top(scores: np.ndarray, allowed: np.ndarray, exclude: set[int], k: int) -> np.ndarray:
    """The ``k`` best allowed item indices, best first (ties: lower index first)."""
    from torchworks.tasks.recommendation.ranking import top_items

    barred = np.flatnonzero(~allowed)
    if exclude:
        barred = np.union1d(barred, np.fromiter(exclude, dtype=np.int64))
    top = top_items(scores[None, :], [barred.astype(np.int64)], k)[0]
    return top[top >= 0]


def _record(query: Query, top: np.ndarray, scores: np.ndarray, state: dict[str, Any]) -> dict[str, Any]:
    items, titles, genres = state["items"], state["titles"], state["genres"]
    return {
        "input": query.input,
        "user": query.user,
        "known_user": query.user is not None and query.user_index < len(state["users"]),
        "fallback": query.fallback,
        "notes": list(query.notes),
        "recommendations": [{"rank": rank, "item": items[item], "title": titles[item], "genres": list(genres[item]),
                             "score": round(float(scores[item]), 6)} for rank, item in enumerate(top, start=1)],
    }


def recommendation_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """CSV rows of one record: one per recommended item (a record with an error, or none, keeps one row)."""
    common = {"input": record.get("input"), "user": record.get("user"), "fallback": record.get("fallback") or ""}
    if "error" in record or not record.get("recommendations"):
        return [{**common, "error": record.get("error", ""), "notes": "; ".join(record.get("notes", []))}]
    return [{**common, "rank": entry["rank"], "item": entry["item"], "title": entry["title"],
             "genres": "|".join(entry["genres"]), "score": entry["score"]} for entry in record["recommendations"]]
