"""The next item from a user's recent history: a GRU reads the items in the order they were chosen, and
its last state, projected, scores every item through the (shared) item embeddings.

It has no user embedding: a user is their history, so new users (``items=``) and items like one item
(``similar=``, a history of one) need no fold-in, and a list follows the latest tastes (the recipe
for logs whose users drift). Histories are ``[B, L]`` item indices, oldest first, ``-1`` padding on
the right; a learned start token comes first, so an empty history is a valid one.
"""

from __future__ import annotations

import torch
from torch import nn

from torchworks.tasks.recommendation.embeddings import UNTRAINED_SCORE


class SequentialRecommender(nn.Module):
    """GRU over item embeddings; the score of item j is ``project(h) . q_j + b_j``.

    Args:
        n_users: Users trained on (not used: a user is their history).
        n_items: Items scored.
        factors: Embedding and hidden size.
        layers: GRU layers.
        dropout: Dropout on the embeddings read and between GRU layers.
        mean_rating: Added to every score when predicting ratings; 0 for implicit feedback.
        trained: Which items training interactions named; the others score ``UNTRAINED_SCORE``.
    """

    def __init__(self, n_users: int, n_items: int, factors: int = 64, layers: int = 1, dropout: float = 0.1,
                 mean_rating: float = 0.0, trained: list[bool] | None = None):
        super().__init__()
        self.n_users, self.n_items = n_users, n_items
        self.item_embedding = nn.Embedding(n_items + 1, factors)  # the last row: the start token
        self.item_bias = nn.Embedding(n_items, 1)
        self.gru = nn.GRU(factors, factors, num_layers=layers, batch_first=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.project = nn.Linear(factors, factors)
        self.register_buffer("mean_rating", torch.tensor(float(mean_rating)))
        self.register_buffer("trained", torch.tensor(trained if trained is not None else [True] * n_items))
        nn.init.normal_(self.item_embedding.weight, std=0.05)
        nn.init.zeros_(self.item_bias.weight)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        vectors, offsets = self.query_vectors(inputs)
        item_vectors, item_biases, scored = self.item_table()
        return (vectors @ item_vectors.T + item_biases + offsets[:, None]).masked_fill(~scored, UNTRAINED_SCORE)

    def item_table(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every item's vector and bias, and which items are scored at all (see ``MatrixFactorization``)."""
        return self.item_embedding.weight[: self.n_items], self.item_bias.weight[:, 0], self.trained

    def query_vectors(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, f]`` vectors of the histories, and the ``[B]`` offsets added to every score (the mean rating)."""
        vectors = self.user_vectors(inputs["history"])
        return vectors, self.mean_rating.expand(len(vectors))

    def user_vectors(self, history: torch.Tensor) -> torch.Tensor:
        """``[B, factors]``: the projected GRU state after each history's last item."""
        start = torch.full_like(history[:, :1], self.n_items)
        tokens = torch.cat([start, history], dim=1)
        valid = tokens >= 0
        embedded = self.item_embedding(tokens.clamp(min=0)) * valid.unsqueeze(-1).to(self.item_embedding.weight.dtype)
        states, _ = self.gru(self.dropout(embedded))
        last = valid.sum(dim=1) - 1
        return self.project(states[torch.arange(len(history), device=history.device), last])

    def pair_scores(self, inputs: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        """Scores for items: ``[B]`` (one each), ``[m]`` (the same for all) or ``[B, m]``."""
        vectors = self.user_vectors(inputs["history"])
        item_vectors, item_biases = self.item_embedding(items), self.item_bias(items)[..., 0]
        if items.dim() == 1 and len(items) == len(vectors):
            return (vectors * item_vectors).sum(-1) + item_biases + self.mean_rating
        if items.dim() == 1:
            return vectors @ item_vectors.T + item_biases + self.mean_rating
        return torch.einsum("bf,bmf->bm", vectors, item_vectors) + item_biases + self.mean_rating

    def penalty(self, inputs: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        """The squared norms of the item embeddings a batch uses, per example."""
        return self.item_embedding(items).pow(2).sum() / len(items)

    def item_vectors(self) -> torch.Tensor:
        """One vector per item, for similar items and maps of the catalogue."""
        return self.item_embedding.weight[: self.n_items]
