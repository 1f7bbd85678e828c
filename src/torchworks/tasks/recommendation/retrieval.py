"""Lists from the bundle's item index: for catalogues too large to score every item per request, the user's
vector is searched in a nearest-neighbour index of the item vectors (see :mod:`.neighbours`) built once
after training and kept in the bundle as ``item_index.faiss``.

The index holds the items the model scores (those training named; for ``two_tower`` every item of the
catalogue); position ``p`` of the index is item ``ids[p]``. A search fetches the user's seen items and
``CANDIDATES`` more, so that lists with or without ``exclude_seen`` and with filters come from the same
answer; a filter that leaves fewer than ``k`` of those candidates says so in the record's notes.

How close the index's lists are to exact scoring is measured when it is built: recall@10 of the index
against exact search for up to ``RECALL_USERS`` trained users, their seen items left out, recorded in the
bundle's state (``item_index``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from torchworks.errors import BundleError
from torchworks.tasks.recommendation.dataset import model_inputs
from torchworks.tasks.recommendation.neighbours import ItemIndex

INDEX_FILE = "item_index.faiss"
INDEX_FROM = 100_000  # item_index=auto builds an HNSW index for catalogues of this many scored items or more
CANDIDATES = 200  # items fetched beyond a user's seen ones: lists deeper than this are cut (with a note)
RECALL_USERS = 1000  # trained users whose lists measure the index's recall@10 against exact search
RECALL_K = 10
MIN_RECALL = 0.95  # recall@10 an HNSW index must reach: ef_search is raised until it does (or it is dropped)
EF_SEARCH_STEPS = (128, 256, 512, 1024, 2048)


def faiss_installed() -> bool:
    """Whether faiss (the ``recommendation`` extra) can be imported."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def index_kind(choice: str, model: torch.nn.Module) -> str | None:
    """The index to build for ``item_index=choice``: ``"hnsw"``, ``"flat"`` or None (lists score every item).

    ``auto`` builds HNSW for catalogues of ``INDEX_FROM`` scored items or more when faiss is installed; a
    model without a dot-product score (``neumf``) never has an index (``check_config`` refuses asking for one).
    """
    if choice == "none" or not hasattr(model, "item_table"):
        return None
    if choice == "auto":
        scored = int(model.item_table()[2].sum())
        return "hnsw" if scored >= INDEX_FROM and faiss_installed() else None
    return choice


def build_item_index(model: torch.nn.Module, state: dict[str, Any], kind: str) -> tuple[ItemIndex, dict[str, Any]]:
    """The index of ``model``'s scored items, and what was measured of it (for the state's ``item_index``):
    ``kind``, ``items``, ``factors``, ``ef_search``, ``build_seconds``, ``recall@10`` and ``users_measured``.

    An HNSW index searches with the smallest ``ef_search`` of ``EF_SEARCH_STEPS`` whose recall@10 reaches
    ``MIN_RECALL`` (the largest when none does: the caller decides what to do with a weak index). Vectors
    without structure (an undertrained model's) need far more candidates than clustered ones."""
    with torch.inference_mode():
        vectors, biases, scored = (tensor.detach().float().cpu() for tensor in model.item_table())
    ids = np.flatnonzero(scored.numpy())
    started = time.perf_counter()
    index = ItemIndex.build(vectors.numpy()[ids], biases.numpy()[ids], kind=kind, threads=torch.get_num_threads())
    built = time.perf_counter() - started
    for ef_search in EF_SEARCH_STEPS if kind == "hnsw" else (None,):
        if ef_search is not None:
            index.ef_search = ef_search
        recall, users = measure_recall(model, index, ids, state)
        if recall >= MIN_RECALL:
            break
    return index, {"kind": kind, "items": len(ids), "factors": index.factors, "ef_search": index.ef_search,
                   "build_seconds": round(built, 2), f"recall@{RECALL_K}": round(recall, 4), "users_measured": users}


def measure_recall(model: torch.nn.Module, index: ItemIndex, ids: np.ndarray, state: dict[str, Any],
                   users: int = RECALL_USERS) -> tuple[float, int]:
    """Recall@10 of ``index`` against exact search over the same vectors for up to ``users`` trained users
    (a seeded sample), each user's seen items left out; and how many users that was."""
    n_users = len(state["users"])
    chosen = np.sort(np.random.default_rng(0).permutation(n_users)[:users])
    histories = [state["histories"][user] for user in chosen]
    with torch.inference_mode():
        inputs = model_inputs(chosen.tolist(), [history[-state["history_length"]:] for history in histories])
        vectors = model.query_vectors(inputs)[0].float().numpy()
    seen = [index_positions(ids, history) for history in histories]
    approximate, _ = index.search(vectors, RECALL_K, exclude=seen)
    exact, _ = index.exact_search(vectors, RECALL_K, exclude=seen)
    from torchworks.tasks.recommendation.neighbours import recall_at_k

    return recall_at_k(approximate, exact), len(chosen)


def index_positions(ids: np.ndarray, items: list[int] | np.ndarray) -> np.ndarray:
    """The index positions of item indices ``items`` (items the index does not hold are dropped)."""
    items = np.asarray(items, dtype=np.int64)
    positions = np.searchsorted(ids, items)
    held = (positions < len(ids)) & (ids[positions.clip(max=len(ids) - 1)] == items)
    return positions[held]


def read_item_index(data: bytes, model: torch.nn.Module, facts: dict[str, Any] | None = None
                    ) -> tuple[ItemIndex, np.ndarray]:
    """The bundle's index (searching with the ``ef_search`` its ``facts`` chose) and the item index of each
    of its positions.

    Raises:
        BundleError: The file is not an index of this model's scored items.
    """
    index = ItemIndex.from_bytes(data, threads=torch.get_num_threads())
    if facts and facts.get("ef_search"):
        index.ef_search = int(facts["ef_search"])
    if not hasattr(model, "item_table"):
        raise BundleError("the bundle holds an item index its model cannot use", expected="a dot-product model "
                          "(mf, two_tower, sequential)", got=type(model).__name__, hint="retrain the model")
    with torch.inference_mode():
        vectors, _, scored = model.item_table()
    ids = np.flatnonzero(scored.cpu().numpy())
    if index.n_items != len(ids) or index.factors != vectors.shape[1]:
        raise BundleError("the item index does not match the model", expected=f"{len(ids)} items of "
                          f"{vectors.shape[1]} factors", got=f"{index.n_items} items of {index.factors} factors",
                          hint="the bundle was mixed with another run's files; restore it or retrain")
    return index, ids


class IndexedRanking:
    """What predict and serve run on a batch of queries when the bundle has an item index: each row's best
    items from the index, instead of a score for every item.

    Returns one dict per row, ``{"items": int64 [m], "scores": float32 [m]}``, best first: the user's
    seen items (known users: every item of their history; new ones: the items given) plus ``CANDIDATES``
    more, with the scores the model gives them (offsets included).
    """

    def __init__(self, model: torch.nn.Module, index: ItemIndex, ids: np.ndarray, state: dict[str, Any]):
        self.model, self.index, self.ids = model, index, ids
        self.histories, self.n_users = state["histories"], len(state["users"])

    def __call__(self, inputs: dict[str, torch.Tensor]) -> list[dict[str, np.ndarray]]:
        with torch.inference_mode():
            vectors, offsets = self.model.query_vectors(inputs)
        users, given = inputs["user"].tolist(), inputs["history"].numpy()
        seen = [len(self.histories[user]) if user < self.n_users else int((row >= 0).sum())
                for user, row in zip(users, given)]
        fetch = min(self.index.n_items, CANDIDATES + max(seen, default=0))
        positions, scores = self.index.search(vectors.float().numpy(), fetch)
        rows = []
        for row, offset in zip(range(len(positions)), offsets.float().numpy()):
            found = positions[row] >= 0
            rows.append({"items": self.ids[positions[row][found]], "scores": scores[row][found] + offset})
        return rows
