"""The report's recommendation figures and tables: the model beside its baselines, NDCG by user
activity, the popularity of what is recommended, the catalogue mapped in 2-D, and a few users' lists."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from torchworks.report.plots import plt

COMPARED = ("ndcg@10", "recall@20", "hr@10")
MAPPED_GENRES = 8  # the most common first genres get a colour each on the map; the rest are grey
MAPPED_ITEMS = 3000  # items on the map at most


def metrics_figure(metrics: dict[str, Any], baselines: dict[str, dict[str, Any]]) -> Figure:
    """Grouped bars: NDCG@10, recall@20 and HR@10 of the model and each baseline on the same split."""
    rows = {"torchworks": metrics, **{name: values for name, values in baselines.items() if "ndcg@10" in values}}
    fig, ax = plt.subplots(figsize=(7.2, 3.6))
    width = 0.8 / len(rows)
    for offset, (name, values) in enumerate(rows.items()):
        heights = [float(values.get(key) or 0) for key in COMPARED]
        bars = ax.bar(np.arange(len(COMPARED)) + offset * width, heights, width,
                      label=name, color="#2e8b3e" if name == "torchworks" else None)
        for bar, height in zip(bars, heights):
            ax.text(bar.get_x() + bar.get_width() / 2, height, f"{height:.3f}", ha="center", va="bottom", fontsize=6)
    ax.set_xticks(np.arange(len(COMPARED)) + 0.4 - width / 2, COMPARED)
    ax.set(title="Full-ranking metrics on the test users: model and baselines", ylabel="value")
    ax.set_ylim(0, max([float(values.get(key) or 0) for values in rows.values() for key in COMPARED] + [0.01]) * 1.15)
    ax.legend(fontsize=7, ncol=min(len(rows), 5), loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
    fig.tight_layout()
    return fig


def segments_figure(segments: dict[str, dict[str, Any]]) -> Figure:
    """NDCG@10 and HR@10 of light, medium and heavy users."""
    names = list(segments) or ["(none)"]
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    for offset, key in enumerate(("ndcg@10", "hr@10")):
        values = [segments[name][key] for name in segments] or [0.0]
        ax.bar(np.arange(len(names)) + offset * 0.4, values, 0.4, label=key)
    ax.set_xticks(np.arange(len(names)) + 0.2, [f"{name}\n{segments[name]['users']} users" for name in segments]
                  or names, fontsize=8)
    ax.set(title="By user activity (training interactions)", ylabel="value")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def popularity_figure(popularity: np.ndarray, recommended: np.ndarray) -> Figure:
    """How popular the recommended items are, against the catalogue: a long tail left unrecommended
    shows as mass at the right of the first histogram only."""
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    bins = np.unique(np.geomspace(1, max(2.0, popularity.max() + 1), 25).round())
    slots = np.repeat(popularity + 1, recommended)
    ax.hist(popularity + 1, bins=bins, alpha=0.6, label="catalogue (share of items)",
            weights=np.full(len(popularity), 1 / max(1, len(popularity))))
    ax.hist(slots, bins=bins, alpha=0.6, label="top-10 lists (share of slots)",
            weights=np.full(len(slots), 1 / max(1, len(slots))))
    ax.set_xscale("log")
    ax.set(title="Popularity of recommended items vs the catalogue", xlabel="training interactions + 1",
           ylabel="share")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def item_map(scores: np.ndarray, genres: list[list[str]], popularity: np.ndarray) -> Figure:
    """The items as the model sees them: each item's column of scores over the test users, reduced to
    two principal components, coloured by its first genre, sized by popularity (the most popular
    ``MAPPED_ITEMS`` of a larger catalogue)."""
    if scores.shape[1] > MAPPED_ITEMS:
        kept = np.sort(np.argsort(-popularity, kind="stable")[:MAPPED_ITEMS])
        scores, genres, popularity = scores[:, kept], [genres[i] for i in kept], popularity[kept]
    columns = scores.T - scores.T.mean(axis=0, keepdims=True)
    columns = columns - columns.mean(axis=1, keepdims=True)
    u, s, _ = np.linalg.svd(columns - columns.mean(axis=0), full_matrices=False)
    points = u[:, :2] * s[:2] if columns.shape[1] >= 2 else np.zeros((len(columns), 2))
    first = [item[0] if item else "(none)" for item in genres]
    common = [genre for genre, _ in Counter(first).most_common(MAPPED_GENRES)]
    fig, ax = plt.subplots(figsize=(6.8, 5.0))
    sizes = 4 + 40 * np.sqrt(popularity / max(1.0, popularity.max()))
    others = np.array([genre not in common for genre in first])
    ax.scatter(points[others, 0], points[others, 1], s=sizes[others], color="#cccccc", label="other", alpha=0.5)
    for genre in common:
        chosen = np.array([g == genre for g in first])
        ax.scatter(points[chosen, 0], points[chosen, 1], s=sizes[chosen], label=genre, alpha=0.7)
    ax.set(title="Items by the model's scores (2 principal components), by first genre",
           xlabel="component 1", ylabel="component 2")
    ax.legend(fontsize=7, markerscale=0.8, loc="best")
    fig.tight_layout()
    return fig


def example_rows(examples: list[dict[str, Any]], state: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per shown user: a few items they had seen, their top-5 (hits marked) and what they chose."""
    titles, users = state["titles"], state["users"]
    rows = []
    for example in examples:
        positives = set(int(item) for item in example["positives"])
        top = [int(item) for item in example["top"][:5] if item >= 0]
        rows.append({"user": users[example["user"]],
                     "had seen (a few)": "; ".join(titles[int(item)] for item in example["seen"][-4:]),
                     "top 5 (+ = held out, found)": "; ".join(("+ " if item in positives else "") + titles[item]
                                                              for item in top),
                     "held out": "; ".join(titles[item] for item in sorted(positives))})
    return rows
