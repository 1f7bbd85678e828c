"""Why an item is recommended: the items of the user's history nearest to it in the model's item space
("because you liked ..."), with the genres they share. For a new user (``items=``) the history is the
items given."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from torchworks.attribution.explainer import Explanation
from torchworks.errors import ConfigError
from torchworks.report.plots import bar_chart
from torchworks.tasks.recommendation.predicting import ItemSimilarity, recommendation_records
from torchworks.tasks.recommendation.queries import Query, positions

METHODS = ("similarity",)
SHOWN = 10  # history items drawn in the figure


def explain_recommendations(model: torch.nn.Module, inputs: dict[str, torch.Tensor], queries: list[Query],
                            state: dict[str, Any], target: str | None,
                            similarity: ItemSimilarity) -> list[Explanation]:
    """One explanation per query: why its target item (``target=``, the query's ``item=``, or else
    its first recommendation) scores as it does, ``similarity`` being the model's item space."""
    with torch.no_grad():
        scores = model(inputs).detach().float().cpu()
    records = recommendation_records(scores, queries, state, similarity)
    items = positions(state["items"])
    explanations = []
    for row, (query, record) in enumerate(zip(queries, records)):
        item = _target(query, record, target, items)
        history = [seen for seen in query.history if seen != item]  # an item is no reason for itself
        explanations.append(_explain_one(query, item, history, similarity, float(scores[row, item]), state))
    return explanations


def _target(query: Query, record: dict[str, Any], target: str | None, items: dict[str, int]) -> int:
    if target is not None:
        if target not in items:
            raise ConfigError(f"target={target} is not an item of the catalogue", expected="an item id",
                              got=target, hint="leave target out to explain the first recommendation")
        return items[target]
    if query.item is not None:
        return query.item
    if not record["recommendations"]:
        raise ConfigError(f"nothing is recommended for {query.input} to explain", expected="a list with items",
                          got="an empty list", hint="name an item with item=ID")
    return items[record["recommendations"][0]["item"]]


def _explain_one(query: Query, item: int, history: list[int], items: ItemSimilarity, score: float,
                 state: dict[str, Any]) -> Explanation:
    titles, genres = state["titles"], state["genres"]
    similarity = items.between(history, item) if history else np.zeros(0)
    order = np.argsort(-similarity, kind="stable")
    attributions = [{"item": state["items"][history[i]], "title": titles[history[i]],
                     "similarity": round(float(similarity[i]), 4),
                     "shared_genres": sorted(set(genres[history[i]]) & set(genres[item]))} for i in order[:SHOWN]]
    record = {"input": query.input, "prediction": {"item": state["items"][item], "title": titles[item],
                                                   "score": round(score, 6)},
              "method": "similarity", "target": state["items"][item], "attributions": attributions or
              [{"item": None, "title": "(no history: the item is ranked by popularity alone)", "similarity": 0.0,
                "shared_genres": []}]}
    liked = ", ".join(entry["title"] for entry in attributions[:3])
    shared = sorted({genre for entry in attributions[:3] for genre in entry["shared_genres"]})
    summary = (f"{titles[item]}: because of {liked}" + (f" (shared: {', '.join(shared)})" if shared else "")
               if attributions else f"{titles[item]}: popular, and nothing in the history to relate it to")
    figures = {}
    if attributions:
        figure = bar_chart({f"{entry['title'][:40]}": entry["similarity"] for entry in attributions},
                           f"Why {titles[item][:50]}: nearest items of the history", "cosine similarity",
                           limit=None)
        from torchworks.attribution.figures import figure_png

        figures["history_similarity"] = figure_png(figure)
    return Explanation(record=record, figures=figures, summary=summary)
