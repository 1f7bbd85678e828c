"""One training step's loss, and the validation metric early stopping and checkpoints watch."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torchmetrics import Metric

from torchworks.tasks.recommendation.losses import bpr, sampled_softmax, squared_error, weighted_mean


def training_loss(model: torch.nn.Module, inputs: dict[str, torch.Tensor], items: torch.Tensor,
                  targets: torch.Tensor, state: dict[str, Any], log_q: torch.Tensor) -> torch.Tensor:
    """The loss of a batch of interactions under ``state["loss"]``: squared error of the ratings, or the
    positives ranked against ``state["negatives"]`` items drawn for the batch (by popularity^0.75 for
    the softmax, uniformly for BPR; every item, the exact softmax, when there are no more items than
    that), plus the embeddings' L2 penalty."""
    kind, users = state["loss"], inputs["user"]
    if kind == "mse":
        return _penalised(squared_error(model.pair_scores(inputs, items), targets), model, inputs, items, state)
    weights = targets  # implicit feedback: each interaction's weight (a count, times its recency)
    n_items, m = len(log_q), state["negatives"]
    if kind == "softmax" and m >= n_items:  # a catalogue no larger than the sample: the exact softmax
        scores = model.pair_scores(inputs, torch.arange(n_items, device=users.device))
        losses = torch.nn.functional.cross_entropy(scores, items, reduction="none")
        return _penalised(weighted_mean(losses, weights), model, inputs, items, state)
    if kind == "softmax":
        negatives = torch.multinomial(log_q.exp(), m, replacement=True).to(users.device)
    else:
        negatives = torch.randint(0, n_items, (m,), device=users.device)
    positive, negative = model.pair_scores(inputs, items), model.pair_scores(inputs, negatives)
    if kind == "softmax":
        loss = sampled_softmax(positive, negative, items, negatives, log_q.to(users.device), weights)
    else:
        loss = bpr(positive, negative, items, negatives, weights)
    return _penalised(loss, model, inputs, items, state)


def _penalised(loss: torch.Tensor, model: torch.nn.Module, inputs: dict[str, torch.Tensor], items: torch.Tensor,
               state: dict[str, Any]) -> torch.Tensor:
    return loss + state["l2"] * model.penalty(inputs, items) if state["l2"] else loss


class ValidationNDCG(Metric):
    """NDCG@10 of the validation users under full ranking (their training items left out)."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, popularity: list[int], k: int = 10):
        super().__init__()
        self.popularity = np.asarray(popularity, dtype=np.float64)
        self.k = k
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("users", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, outputs: torch.Tensor, targets: dict[str, Any]) -> None:
        from torchworks.tasks.recommendation.ranking import RankingMetrics

        ranking = RankingMetrics(self.popularity, (self.k,))
        ranking.update(outputs.detach().float().cpu().numpy(), targets["seen"], targets["positives"])
        _, values = ranking.per_user(f"ndcg@{self.k}")
        self.total += float(values.sum())
        self.users += len(values)

    def compute(self) -> torch.Tensor:
        return (self.total / self.users.clamp(min=1)).float()
