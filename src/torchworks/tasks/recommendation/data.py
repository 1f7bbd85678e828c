"""``prepare_data`` for recommendation: read the interactions, index users and items, split without
leakage, and build the training interactions and the users to rank for validation and testing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from torchworks.errors import DataError
from torchworks.tables import counted
from torchworks.tasks.protocol import PreparedData
from torchworks.tasks.recommendation.config import RecommendationConfig, scale_of
from torchworks.tasks.recommendation.dataset import RankedUsers, TrainingInteractions
from torchworks.tasks.recommendation.holdout import Split, check_no_leakage, choose_split, split_events
from torchworks.tasks.recommendation.interactions import Interactions as Log
from torchworks.tasks.recommendation.item_features import ItemFeatures
from torchworks.tasks.recommendation.models import MODEL_INPUTS

# the settings that shape lists, kept in the state as their defaults (a prediction may change each)
PREDICTION_OPTIONS = ("k", "exclude_seen", "include", "exclude", "categories")


@dataclass
class Indexed:
    """The log as index arrays, one entry per interaction (in the log's time order)."""

    users: np.ndarray
    items: np.ndarray
    times: np.ndarray
    lines: np.ndarray
    targets: np.ndarray  # the rating (explicit) or the weight (implicit)
    user_ids: list[str]
    item_ids: list[str]

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)


@dataclass
class RecommendationData:
    """What prepare_data makes: the engine's prepared data, and the matrices baselines and models share."""

    prepared: PreparedData
    train: sp.csr_matrix  # users x items, training targets
    seen: sp.csr_matrix  # what test users must not be shown: training and validation items
    test: sp.csr_matrix  # held-out test items
    log: Log
    features: ItemFeatures | None = None  # two_tower's item features, made when there is no bundle yet


def read_log(config: RecommendationConfig) -> Log:
    """The interactions ``config.data`` names, read and checked."""
    from torchworks.datasets import sample_or_path
    from torchworks.tasks.recommendation.reading import read_interactions

    log = read_interactions(sample_or_path(config.data), user=config.user, item=config.item, rating=config.rating,
                            weight=config.weight, time=config.time, rating_scale=scale_of(config),
                            duplicates=config.duplicates, item_features=config.item_features)
    if config.feedback == "explicit" and not log.has_ratings:
        raise DataError(f"'{log.source}' has no ratings for feedback=explicit", expected="a rating column",
                        got="columns " + ", ".join(log.columns.values()),
                        hint="name it with rating=COLUMN, or train on implicit feedback (feedback=implicit)")
    return log


def prepare_recommendation_data(config: RecommendationConfig, state: dict[str, Any] | None) -> RecommendationData:
    """Read, index, split and check the interactions; with ``state`` (a bundle's), keep its ids."""
    log = read_log(config)
    frame, dropped = _active_users(log.frame, config.min_interactions, log.source)
    indexed, unknown = _index(frame, log, config, state)
    method = choose_split(config.split, log.has_times)
    split = split_events(method, indexed.users, indexed.times, indexed.lines, val_fraction=config.val_fraction,
                         test_fraction=config.test_fraction, seed=config.seed)
    check_no_leakage(split, indexed.users, indexed.items, indexed.times)
    if not len(split.test):
        raise DataError(f"no interactions of '{log.source}' are left for testing", expected="users with at least "
                        "two interactions", got=f"{indexed.n_users} users", hint="use split=random or more data")
    matrices = _matrices(indexed, split)
    reads = "user" not in MODEL_INPUTS[(state or {}).get("model", config.model)]  # a model of histories alone
    untrained = untrained_users(indexed, split.train)
    built = state if state is not None else _state(config, log, indexed, matrices["train"], method)
    if state is None:
        built["untrained_users"] = [int(user) for user in untrained]
    features = None
    if state is None and config.model == "two_tower":
        from torchworks.tasks.recommendation.item_features import item_features

        features = item_features(log.items, indexed.item_ids, text=config.item_text, progress=config.progress)
        if not any(features.sizes.values()):
            raise DataError(f"model=two_tower has no item features in '{log.source}'", expected="items with genres "
                            "or categories, numeric columns or titles (item_features=TABLE, or a MovieLens folder)",
                            got="item ids alone" + ("" if config.item_text else " (item_text=false)"),
                            hint="give item_features=catalogue.csv, or train model=mf")
        built["architecture"].update(features.sizes)
    prepared = PreparedData(
        train=TrainingInteractions(indexed.users[split.train], indexed.items[split.train],
                           _training_targets(indexed, split.train, config),
                           _previous_items(indexed, split.train, config.history_length) if reads else None),
        val=_ranked(indexed, matrices["train"], split.val, split.train, config.history_length, untrained),
        test=_ranked(indexed, matrices["seen"], split.test, np.concatenate([split.train, split.val]),
                     config.history_length, untrained),
        state=built,
        summary=_summary(log, indexed, split, dropped, unknown, matrices),
        fingerprint=_fingerprint(indexed),
    )
    if features is not None:
        prepared.summary["item features (two_tower)"] = _feature_summary(features)
    return RecommendationData(prepared, matrices["train"], matrices["seen"], matrices["test"], log, features)


def _feature_summary(features: ItemFeatures) -> str:
    names = features.names
    parts = [f"{len(names['genres'])} genres"] if names["genres"] else []
    parts += [f"numbers ({', '.join(names['numbers'][:5])}{', ...' if len(names['numbers']) > 5 else ''})"
              ] if names["numbers"] else []
    parts += [f"text of {', '.join(names['text'])} (MiniLM, {features.text.shape[1]} dimensions)"] if names["text"] else []
    return "; ".join(parts) or "none (the catalogue has no genres, numbers or text: ids only)"


def _training_targets(indexed: Indexed, events: np.ndarray, config: RecommendationConfig) -> np.ndarray:
    """Ratings (explicit), or weights times ``0.5 ** (later / recency)``, ``later`` counting the user's
    training interactions after this one (implicit)."""
    targets = indexed.targets[events].astype(np.float32)
    if config.feedback == "explicit" or not config.recency:
        return targets
    users, times = indexed.users[events], indexed.times[events]
    order = np.lexsort((indexed.lines[events], times, users))
    sorted_users = users[order]
    starts = np.r_[0, np.flatnonzero(sorted_users[1:] != sorted_users[:-1]) + 1]
    sizes = np.diff(np.r_[starts, len(order)])
    later = np.empty(len(order), dtype=np.float64)
    later[order] = np.repeat(starts + sizes, sizes) - 1 - np.arange(len(order))
    return (targets * 0.5 ** (later / config.recency)).astype(np.float32)


def _active_users(frame: pd.DataFrame, minimum: int, source: str) -> tuple[pd.DataFrame, int]:
    """The interactions of users with at least ``minimum`` of them, and how many users were left out."""
    counts = frame["user"].map(frame["user"].value_counts())
    kept = frame[counts >= minimum]
    dropped = frame["user"].nunique() - kept["user"].nunique()
    if kept["user"].nunique() < 2:
        raise DataError(f"too few users of '{source}' have {minimum} or more interactions",
                        expected="at least 2 such users", got=f"{kept['user'].nunique()}",
                        hint=f"lower min_interactions (now {minimum}) or add interactions")
    return kept, int(dropped)


def _index(frame: pd.DataFrame, log: Log, config: RecommendationConfig,
           state: dict[str, Any] | None) -> tuple[Indexed, int]:
    """Index arrays of the interactions: users in order of id, items in catalogue order (a bundle's own
    order when ``state`` is given; interactions of ids it does not know are then left out, counted)."""
    if state is not None:
        users, items = pd.Index(state["users"]), pd.Index(state["items"])
    else:
        users = pd.Index(sorted(frame["user"].astype(str).unique()))
        items = pd.Index(log.items.index.astype(str))
    user_index = users.get_indexer(frame["user"].astype(str))
    item_index = items.get_indexer(frame["item"].astype(str))
    known = (user_index >= 0) & (item_index >= 0)
    frame = frame[known]
    use_ratings = config.feedback == "explicit"
    targets = frame["rating" if use_ratings else "weight"].to_numpy(dtype=np.float32)
    return Indexed(user_index[known].astype(np.int64), item_index[known].astype(np.int64),
                   frame["time"].to_numpy(dtype=np.int64), frame["line"].to_numpy(dtype=np.int64), targets,
                   [str(user) for user in users], [str(item) for item in items]), int((~known).sum())


def _matrix(indexed: Indexed, events: np.ndarray, ones: bool = False) -> sp.csr_matrix:
    """Users x items of ``events``: the last target of each (user, item) pair (a user's latest rating
    or weight), or 1 with ``ones``."""
    last = pd.DataFrame({"u": indexed.users[events], "i": indexed.items[events], "v": indexed.targets[events]})
    last = last.drop_duplicates(["u", "i"], keep="last")
    values = np.ones(len(last), np.float32) if ones else last["v"].to_numpy(np.float32)
    matrix = sp.csr_matrix((values, (last["u"].to_numpy(), last["i"].to_numpy())),
                           shape=(indexed.n_users, indexed.n_items))
    matrix.sort_indices()
    return matrix


def _matrices(indexed: Indexed, split: Split) -> dict[str, sp.csr_matrix]:
    train, test = _matrix(indexed, split.train), _matrix(indexed, split.test)
    seen = _matrix(indexed, np.concatenate([split.train, split.val]), ones=True)
    return {"train": train, "seen": seen, "test": test}


def _ranked(indexed: Indexed, seen: sp.csr_matrix, events: np.ndarray, before: np.ndarray,
            length: int, untrained: np.ndarray) -> RankedUsers:
    """The users of ``events`` with their held-out items (and ratings), what they have seen, and their
    last ``length`` items of ``before`` (oldest first); ``untrained`` users are read as someone new."""
    held = _matrix(indexed, events)
    users = np.flatnonzero(np.diff(held.indptr))
    sequences = _sequences(indexed, before)
    empty = np.zeros(0, dtype=np.int64)
    new = np.isin(users, untrained)
    return RankedUsers(users, [seen.indices[seen.indptr[u]:seen.indptr[u + 1]] for u in users],
                       [held.indices[held.indptr[u]:held.indptr[u + 1]] for u in users],
                       [held.data[held.indptr[u]:held.indptr[u + 1]] for u in users],
                       [sequences.get(int(u), empty)[-length:] for u in users],
                       model_users=np.where(new, indexed.n_users, users))


def untrained_users(indexed: Indexed, trained_events: np.ndarray) -> np.ndarray:
    """The users none of ``trained_events`` names (after a global time cut, those who came later): the
    model has no embedding for them, so it takes them as someone new, from their items so far."""
    return np.flatnonzero(np.bincount(indexed.users[trained_events], minlength=indexed.n_users) == 0)


def _sequences(indexed: Indexed, events: np.ndarray) -> dict[int, np.ndarray]:
    """Each user's items of ``events`` in the order they were chosen."""
    order = events[np.lexsort((indexed.lines[events], indexed.times[events], indexed.users[events]))]
    users = indexed.users[order]
    starts = np.r_[0, np.flatnonzero(users[1:] != users[:-1]) + 1, len(order)]
    return {int(users[a]): indexed.items[order[a:b]] for a, b in zip(starts[:-1], starts[1:]) if b > a}


def _previous_items(indexed: Indexed, events: np.ndarray, length: int) -> np.ndarray:
    """``[len(events), length]``: for each event, the user's items of ``events`` just before it (oldest
    first, -1 padding on the right), in the order of ``events``."""
    order = np.lexsort((indexed.lines[events], indexed.times[events], indexed.users[events]))
    users, items = indexed.users[events][order], indexed.items[events][order]
    starts = np.r_[0, np.flatnonzero(users[1:] != users[:-1]) + 1]
    sizes = np.diff(np.r_[starts, len(order)])
    rank = np.arange(len(order)) - np.repeat(starts, sizes)  # how many of the user's events came before
    count = np.minimum(rank, length)
    first = np.arange(len(order)) - count
    previous = np.full((len(order), length), -1, dtype=np.int64)
    for column in range(length):
        present = column < count
        previous[present, column] = items[first[present] + column]
    result = np.empty_like(previous)
    result[order] = previous
    return result


def _histories(indexed: Indexed) -> list[list[int]]:
    """Every user's distinct items, most recent last."""
    frame = pd.DataFrame({"u": indexed.users, "i": indexed.items, "order": np.arange(len(indexed.users))})
    frame = frame.drop_duplicates(["u", "i"], keep="last").sort_values(["u", "order"])
    histories: list[list[int]] = [[] for _ in range(indexed.n_users)]
    for user, items in frame.groupby("u")["i"]:
        histories[int(user)] = [int(item) for item in items]
    return histories


def _state(config: RecommendationConfig, log: Log, indexed: Indexed, train: sp.csr_matrix,
           method: str) -> dict[str, Any]:
    from torchworks.tasks.recommendation.models import architecture

    items = log.items.set_axis(log.items.index.astype(str)).reindex(pd.Index(indexed.item_ids))
    explicit = config.feedback == "explicit"
    return {
        "users": indexed.user_ids,
        "items": indexed.item_ids,
        "titles": [str(title) for title in items["title"]],
        "genres": [[str(genre) for genre in genres] for genres in items["genres"]],
        "popularity": [int(count) for count in np.bincount(train.indices, minlength=indexed.n_items)],
        "histories": _histories(indexed),
        "feedback": config.feedback,
        "rating_scale": list(log.rating_scale) if log.rating_scale else None,
        "mean_rating": float(train.data.mean()) if explicit and train.nnz else None,
        "model": config.model,
        "history_length": config.history_length,
        "architecture": architecture(config),
        "loss": resolved_loss(config),
        "negatives": config.negatives,
        "l2": config.l2,
        "recency": config.recency,
        **{key: getattr(config, key) for key in PREDICTION_OPTIONS},
    }


def resolved_loss(config: RecommendationConfig) -> str:
    """``loss=auto``: squared error for explicit ratings, sampled softmax for implicit feedback."""
    if config.loss != "auto":
        return config.loss
    return "mse" if config.feedback == "explicit" else "softmax"


def _summary(log: Log, indexed: Indexed, split: Split, dropped: int, unknown: int,
             matrices: dict[str, sp.csr_matrix]) -> dict[str, Any]:
    train, seen, test = matrices["train"], matrices["seen"], matrices["test"]
    cold = np.bincount(train.indices, minlength=indexed.n_items)[test.indices] == 0
    repeats = test.multiply(seen).nnz
    facts = {"source": log.source, **{k: v for k, v in log.notes.items()},
             "interactions": len(indexed.users), "users": indexed.n_users, "items": indexed.n_items,
             "split": split.notes.get("split", split.method),
             "train / validation / test interactions": f"{len(split.train)} / {len(split.val)} / {len(split.test)}",
             "density": f"{len(indexed.users) / max(1, indexed.n_users * indexed.n_items):.4%}",
             "test interactions with cold items (never trained on)": int(cold.sum()),
             "test interactions repeating a seen item (never hit with exclude_seen)": int(repeats)}
    if dropped:
        facts["users left out (too few interactions)"] = dropped
    if unknown:
        facts["interactions of ids the bundle does not know (left out)"] = counted(unknown, "interaction")
    return facts


def _fingerprint(indexed: Indexed) -> str:
    digest = hashlib.sha256()
    for array in (indexed.users, indexed.items, indexed.times, indexed.targets):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]
