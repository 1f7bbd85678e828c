"""Two towers: matrix factorisation whose item side also reads the item's features (genres or categories,
numbers, and the text MiniLM encoded; see :mod:`.item_features`), so that an item no training interaction
named still has a place in the embedding space and can be recommended (a cold item).

An item's vector is ``id_j + tower(features_j)`` and its bias ``b_j + w . features_j``; the id part exists
only for items training named. While training, the id part of a share ``id_dropout`` of the items a batch
uses is hidden, so the features alone must place them: that is all a cold item ever has. The user tower is
the user's embedding (and a new user is folded in from their items, as for ``mf``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from torchworks.tasks.recommendation.embeddings import MatrixFactorization


class TwoTower(MatrixFactorization):
    """Matrix factorisation with a feature tower on the item side.

    Args:
        n_users: Users trained on.
        n_items: Items scored (every item of the catalogue, trained on or not).
        factors: Embedding size.
        mean_rating: Added to every score when predicting ratings; 0 for implicit feedback.
        trained: Which items training interactions named (the others have no id part).
        genres: Width of the genre features.
        numbers: Numeric feature columns.
        text: Width of the text embeddings (0: no text).
        hidden: Width of the tower's hidden layer.
        id_dropout: Share of training items whose id part is hidden in a batch.
    """

    def __init__(self, n_users: int, n_items: int, factors: int = 64, mean_rating: float = 0.0,
                 trained: list[bool] | None = None, genres: int = 0, numbers: int = 0, text: int = 0,
                 hidden: int = 128, id_dropout: float = 0.25):
        super().__init__(n_users, n_items, factors, mean_rating, trained)
        self.id_dropout = id_dropout
        self.register_buffer("genre_features", torch.zeros(n_items, genres))
        self.register_buffer("number_features", torch.zeros(n_items, numbers))
        self.register_buffer("text_features", torch.zeros(n_items, text))
        width = genres + numbers + text
        self.tower = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, factors)) if width else None
        self.feature_bias = nn.Linear(width, 1) if width else None
        if self.tower is not None:
            nn.init.zeros_(self.tower[2].weight)  # starts as plain matrix factorisation
            nn.init.zeros_(self.tower[2].bias)
            nn.init.zeros_(self.feature_bias.weight)
            nn.init.zeros_(self.feature_bias.bias)

    def set_features(self, genres: np.ndarray, numbers: np.ndarray, text: np.ndarray) -> None:
        """Fill the feature buffers (``[n_items, width]`` each) before training; a bundle's weights hold them."""
        for buffer, values in ((self.genre_features, genres), (self.number_features, numbers),
                               (self.text_features, text)):
            buffer.copy_(torch.as_tensor(np.asarray(values, dtype=np.float32)))

    def features(self, items: torch.Tensor | None = None) -> torch.Tensor:
        """``[..., width]`` features of ``items`` (None: every item)."""
        parts = (self.genre_features, self.number_features, self.text_features)
        if items is None:
            return torch.cat(parts, dim=-1)
        return torch.cat([part[items] for part in parts], dim=-1)

    def item_side(self, items: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        vectors, biases = super().item_side(items)
        keep = self.trained if items is None else self.trained[items]
        if self.training and self.id_dropout > 0:
            keep = keep & (torch.rand(keep.shape, device=keep.device) >= self.id_dropout)
        keep = keep.to(vectors.dtype)
        vectors, biases = vectors * keep[..., None], biases * keep
        if self.tower is None:
            return vectors, biases
        features = self.features(items)
        return vectors + self.tower(features), biases + self.feature_bias(features)[..., 0]

    def item_table(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every item's vector and bias; scored: items trained on or with any feature."""
        vectors, biases = self.item_side()
        described = self.features().abs().sum(1) > 0 if self.tower is not None else torch.zeros_like(self.trained)
        return vectors, biases, self.trained | described
