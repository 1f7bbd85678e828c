"""The datasets of a recommendation run and how their items become batches.

Training items are interactions ``(user, item, target)``, fetched a batch at a time. Validation and
test items are users: the items they must not be shown (``seen``) and the held-out ones to find
(``positives``). Prediction items are queries: a user index (``n_users`` for someone new) and, for new
users, the items they chose. Model inputs are ``{"user": [B], "history": [B, L]}``, ``-1`` padding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

PAD = -1


class TrainingInteractions(Dataset):
    """Training interactions: user index, item index, the target (a rating, or a weight) and, for models
    that read histories, the user's items before this one (``[N, L]``, -1 padding)."""

    def __init__(self, users: np.ndarray, items: np.ndarray, targets: np.ndarray, histories: np.ndarray | None = None):
        self.users = torch.as_tensor(users, dtype=torch.long)
        self.items = torch.as_tensor(items, dtype=torch.long)
        self.targets = torch.as_tensor(targets, dtype=torch.float32)
        self.histories = None if histories is None else torch.as_tensor(histories, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.users)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self._take(index)

    def __getitems__(self, indices: list[int]) -> list[dict[str, torch.Tensor]]:
        """A whole batch at once (the DataLoader asks for it so): one dict of stacked tensors."""
        return [self._take(torch.as_tensor(indices, dtype=torch.long))]

    def _take(self, index: Any) -> dict[str, torch.Tensor]:
        item = {"user": self.users[index], "item": self.items[index], "target": self.targets[index]}
        if self.histories is not None:
            item["history"] = self.histories[index]
        return item


class RankedUsers(Dataset):
    """Users to rank every item for: what they have seen, their latest items (oldest first), what they went
    on to choose and its rating."""

    def __init__(self, users: np.ndarray, seen: list[np.ndarray], positives: list[np.ndarray],
                 ratings: list[np.ndarray] | None = None, histories: list[np.ndarray] | None = None,
                 model_users: np.ndarray | None = None):
        self.users, self.seen, self.positives, self.ratings = users, seen, positives, ratings
        self.histories = histories
        # the user index the model reads: n_users (someone new, folded in from the history) for users
        # without training interactions, whose embeddings never trained
        self.model_users = users if model_users is None else model_users

    def __len__(self) -> int:
        return len(self.users)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"user": int(self.users[index]), "model_user": int(self.model_users[index]), "seen": self.seen[index],
                "positives": self.positives[index], "ratings": None if self.ratings is None else self.ratings[index],
                "history": [] if self.histories is None else self.histories[index]}


class Queries(Dataset):
    """Prediction queries: ``{"user": index, "history": item indices}`` (history only for new users)."""

    def __init__(self, queries: list[dict[str, Any]]):
        self.queries = queries

    def __len__(self) -> int:
        return len(self.queries)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.queries[index]


def model_inputs(users: list[int] | torch.Tensor, histories: list[Any]) -> dict[str, torch.Tensor]:
    """``{"user": [B], "history": [B, L]}``, histories padded with -1 to the longest (at least 1)."""
    length = max([1, *(len(history) for history in histories)])
    history = torch.full((len(histories), length), PAD, dtype=torch.long)
    for row, items in enumerate(histories):
        if len(items):
            history[row, :len(items)] = torch.as_tensor(np.asarray(items), dtype=torch.long)
    return {"user": torch.as_tensor(users, dtype=torch.long), "history": history}


def collate(batch: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Labelled batches: training interactions (already stacked), or users to rank."""
    if "target" in batch[0]:
        (stacked,) = batch if len(batch) == 1 and batch[0]["user"].dim() == 1 else [_stack(batch)]
        inputs = {key: stacked[key] for key in ("user", "item", "history") if key in stacked}
        return inputs, {"target": stacked["target"]}
    inputs = model_inputs([item.get("model_user", item["user"]) for item in batch], [item["history"] for item in batch])
    targets = {"user": torch.as_tensor([item["user"] for item in batch], dtype=torch.long),
               "seen": [item["seen"] for item in batch],
               "positives": [item["positives"] for item in batch], "ratings": [item["ratings"] for item in batch]}
    return inputs, targets


def collate_queries(batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Prediction batches: model inputs of the queries."""
    return model_inputs([item["user"] for item in batch], [item["history"] for item in batch])


def _stack(batch: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {key: torch.stack([item[key] for item in batch]) for key in batch[0]}
