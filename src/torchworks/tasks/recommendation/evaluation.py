"""Test-set evaluation of a recommender by full ranking: every item the user has not seen is a
candidate (no sampled negatives, which flatter models; Krichene and Rendle, 2020).

``metrics.json`` holds HR, recall, NDCG and MAP at 10 and 20, catalogue coverage, popularity bias, RMSE
and MAE for explicit ratings, and ``per_segment``: users by activity (training interactions, in
thirds) and the test interactions with cold items (never trained on) and repeats (already seen, so
never hit while seen items are left out). The report adds the model beside its baselines, NDCG by
activity, a few users' histories with their lists, the catalogue mapped in 2-D and the popularity of
what is recommended.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from torchworks.evaluation import Evaluation, Evaluator
from torchworks.tasks.recommendation.ranking import KS, RankingMetrics, rating_errors, top_items

MAP_USERS = 2000  # users whose score rows are kept for the catalogue map
SHOWN_USERS = 6  # users whose history and list the report shows


class RecommendationEvaluator(Evaluator):
    """Streaming full-ranking metrics of the test users, with segments, ratings and report samples.

    Args:
        state: The run's state (ids, titles, genres, popularity).
        train_counts: Training interactions per user index (for activity segments).
        baselines: The baselines' metrics on this split, for the comparison figure.
    """

    def __init__(self, state: dict[str, Any], train_counts: np.ndarray, baselines: dict[str, dict[str, Any]]):
        self.state = state
        self.popularity = np.asarray(state["popularity"], dtype=np.float64)
        self.train_counts = train_counts
        self.baselines = baselines
        self.ranking = RankingMetrics(self.popularity, KS)
        self.explicit = state["feedback"] == "explicit"
        self.predicted: list[np.ndarray] = []
        self.actual: list[np.ndarray] = []
        self.cold = {"interactions": 0, "hits@10": 0}
        self.repeats = 0
        self.map_rows: list[np.ndarray] = []
        self.examples: list[dict[str, Any]] = []
        self.recommended = np.zeros(len(self.popularity), dtype=np.int64)

    def update(self, outputs: torch.Tensor, targets: dict[str, Any]) -> None:
        scores = outputs.float().numpy()
        users = targets["user"].numpy()
        seen, positives = targets["seen"], targets["positives"]
        top = top_items(scores, seen, max(KS))
        self.ranking.update_top(top, positives, users)
        np.add.at(self.recommended, top[:, :10][top[:, :10] >= 0], 1)
        for row, user in enumerate(users):
            cold = self.popularity[positives[row]] == 0
            self.cold["interactions"] += int(cold.sum())
            self.cold["hits@10"] += int(np.isin(positives[row][cold], top[row, :10]).sum())
            self.repeats += int(np.isin(positives[row], seen[row]).sum())
            if self.explicit and targets["ratings"][row] is not None:
                self.predicted.append(scores[row, positives[row]])
                self.actual.append(np.asarray(targets["ratings"][row], dtype=np.float64))
            if len(self.examples) < SHOWN_USERS:
                self.examples.append({"user": int(user), "seen": seen[row], "positives": positives[row],
                                      "top": top[row, :10]})
        mapped = sum(len(rows) for rows in self.map_rows)
        if mapped < MAP_USERS:
            self.map_rows.append(scores[: MAP_USERS - mapped])

    def compute(self) -> Evaluation:
        from torchworks.tasks.recommendation import figures

        metrics: dict[str, Any] = self.ranking.compute()
        if self.explicit and self.predicted:
            low, high = self.state["rating_scale"] or (-np.inf, np.inf)
            metrics.update(rating_errors(np.clip(np.concatenate(self.predicted), low, high),
                                         np.concatenate(self.actual)))
        metrics["per_segment"] = self._segments()
        figures_made = {"ranking_metrics": figures.metrics_figure(metrics, self.baselines),
                        "ndcg_by_activity": figures.segments_figure(metrics["per_segment"]["activity"]),
                        "recommended_popularity": figures.popularity_figure(self.popularity, self.recommended)}
        if self.map_rows:
            figures_made["item_map"] = figures.item_map(np.concatenate(self.map_rows), self.state["genres"],
                                                        self.popularity)
        return Evaluation(metrics=metrics, figures=figures_made,
                          tables={"A few test users: what they had seen, what they were recommended":
                                  figures.example_rows(self.examples, self.state)})

    def _segments(self) -> dict[str, Any]:
        users, ndcg = self.ranking.per_user("ndcg@10")
        _, hits = self.ranking.per_user("hr@10")
        activity = self.train_counts[users] if len(users) else np.zeros(0)
        segments: dict[str, Any] = {"activity": activity_segments(activity, ndcg, hits)}
        interactions = self.cold["interactions"]
        segments["cold_items"] = {"test_interactions": interactions, "hits@10": self.cold["hits@10"],
                                  "hr@10": self.cold["hits@10"] / interactions if interactions else None}
        segments["repeats"] = {"test_interactions": self.repeats,
                               "note": "repeats of seen items are never hit while exclude_seen=true"}
        return segments


def activity_segments(activity: np.ndarray, ndcg: np.ndarray, hits: np.ndarray) -> dict[str, dict[str, Any]]:
    """NDCG@10 and HR@10 of users in thirds of training activity, each named by its range."""
    if not len(activity):
        return {}
    edges = np.unique(np.quantile(activity, [0, 1 / 3, 2 / 3, 1]).round())
    bins = np.clip(np.searchsorted(edges, activity, side="right") - 1, 0, max(len(edges) - 2, 0))
    segments = {}
    for index in range(max(len(edges) - 1, 1)):
        members = bins == index
        if not members.any():
            continue
        low, high = int(activity[members].min()), int(activity[members].max())
        name = f"{['light', 'medium', 'heavy'][min(index, 2)] if len(edges) == 4 else 'users'} ({low}-{high})"
        segments[name] = {"users": int(members.sum()), "ndcg@10": float(ndcg[members].mean()),
                          "hr@10": float(hits[members].mean())}
    return segments
