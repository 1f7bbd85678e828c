"""NeuMF (He et al., 2017): generalised matrix factorisation (an element-wise product, weighted) beside
an MLP over the concatenated user and item embeddings, their last layers joined into one score.

Kept for comparison with :mod:`.embeddings`: Rendle et al. (2020) show a well-tuned dot product matches
or beats it, and it scores every item through the MLP (memory grows with users x items per batch).
New users cannot be folded in (no closed form through the MLP): they get the popularity fallback.
"""

from __future__ import annotations

import torch
from torch import nn

from torchworks.tasks.recommendation.embeddings import UNTRAINED_SCORE


class NeuMF(nn.Module):
    """GMF and MLP towers over separate user and item embeddings.

    Args:
        n_users: Users trained on (index ``n_users``: a new user, scored by item popularity alone).
        n_items: Items scored.
        factors: Embedding size of each tower.
        mlp_layers: Hidden layers of the MLP, halving in width from ``2 * factors``.
        dropout: Dropout after each hidden layer.
        mean_rating: Added to every score when predicting ratings; 0 for implicit feedback.
        trained: Which items training interactions named; the others score ``UNTRAINED_SCORE``.
    """

    def __init__(self, n_users: int, n_items: int, factors: int = 64, mlp_layers: int = 2, dropout: float = 0.0,
                 mean_rating: float = 0.0, trained: list[bool] | None = None):
        super().__init__()
        self.register_buffer("trained", torch.tensor(trained if trained is not None else [True] * n_items))
        self.n_users, self.n_items = n_users, n_items
        self.gmf_user, self.gmf_item = nn.Embedding(n_users, factors), nn.Embedding(n_items, factors)
        self.mlp_user, self.mlp_item = nn.Embedding(n_users, factors), nn.Embedding(n_items, factors)
        layers: list[nn.Module] = []
        width = 2 * factors
        for _ in range(mlp_layers):
            layers += [nn.Linear(width, max(width // 2, 4)), nn.ReLU(), nn.Dropout(dropout)]
            width = max(width // 2, 4)
        self.mlp = nn.Sequential(*layers)
        self.output = nn.Linear(factors + width, 1)
        self.item_bias = nn.Embedding(n_items, 1)
        self.register_buffer("mean_rating", torch.tensor(float(mean_rating)))
        for table in (self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item):
            nn.init.normal_(table.weight, std=0.05)
        nn.init.zeros_(self.item_bias.weight)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        users = inputs["user"]
        known = users < self.n_users
        scores = self.pair_scores({"user": users.clamp(max=self.n_users - 1)},
                                  torch.arange(self.n_items, device=users.device))
        scores = torch.where(known[:, None], scores, self.item_bias.weight[:, 0] + self.mean_rating)
        return scores.masked_fill(~self.trained, UNTRAINED_SCORE)

    def pair_scores(self, inputs: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        """Scores of known users (``inputs["user"]``) for items: ``[B]`` (one each), ``[m]`` (the same for
        all) or ``[B, m]``."""
        users = inputs["user"]
        if items.dim() == 1 and len(items) == len(users):
            return self._score(users, items[:, None])[:, 0]
        if items.dim() == 1:
            items = items[None, :].expand(len(users), -1)
        return self._score(users, items)

    def _score(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """``[B, m]`` scores of each user for their ``m`` items."""
        m = items.shape[1]
        gmf = self.gmf_user(users)[:, None, :] * self.gmf_item(items)
        pairs = torch.cat([self.mlp_user(users)[:, None, :].expand(-1, m, -1), self.mlp_item(items)], dim=-1)
        joined = torch.cat([gmf, self.mlp(pairs)], dim=-1)
        return self.output(joined)[..., 0] + self.item_bias(items)[..., 0] + self.mean_rating

    def penalty(self, inputs: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        """The squared norms of the embeddings a batch uses, per user."""
        users = inputs["user"]
        used = [self.gmf_user(users), self.mlp_user(users), self.gmf_item(items), self.mlp_item(items)]
        return sum(table.pow(2).sum() for table in used) / len(users)

    def item_vectors(self) -> torch.Tensor:
        """One vector per item (both towers' embeddings), for similar items and maps of the catalogue."""
        return torch.cat([self.gmf_item.weight, self.mlp_item.weight], dim=1)
