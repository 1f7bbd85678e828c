"""Matrix factorisation, the default recommender: a user's score for an item is the dot product of
their embeddings plus the item's bias (and, for ratings, the user's bias and the global mean).

Every recommender here takes ``{"user": [B], "history": [B, L]}`` and returns a score for every item,
``[B, n_items]``. ``user`` is an index into the trained users, or ``n_users`` for someone new;
``history`` lists items (``-1`` pads), from which a new user's embedding is folded in: a few
gradient steps of the training objective's full softmax with the item embeddings frozen, unrolled so
that exported models do the same arithmetic.
"""

from __future__ import annotations

import torch
from torch import nn

FOLD_IN_STEPS = 8  # gradient steps of the fold-in (each a softmax over every item)
FOLD_IN_RATE = 6.0  # the step, over the items' mean squared norm
FOLD_IN_PENALTY = 5.0  # L2 pull of a folded-in embedding towards zero, over the number of history items. On the
# movies sample, folding test users in from their last 1 / 2 / 3 / 5 / 10 items: NDCG@10 0.046 / 0.051 / 0.050 /
# 0.053 / 0.056 (penalty 1: 0.029-0.051; item biases alone: 0.045); from every seen item 0.0675 (penalty 1: 0.0686,
# trained embeddings 0.0684). The penalty is applied as a proximal step, which stays stable however short the
# history (a plain gradient step overshot for one or two items).
UNTRAINED_SCORE = -1e4  # what an item no training interaction named scores: its embedding is noise


class MatrixFactorization(nn.Module):
    """Dot product of user and item embeddings with biases.

    Args:
        n_users: Users trained on (index ``n_users`` is a new user, folded in from its history).
        n_items: Items scored.
        factors: Embedding size.
        mean_rating: Added to every score when predicting ratings; 0 for implicit feedback.
        trained: Which items training interactions named; the others score ``UNTRAINED_SCORE``.
    """

    def __init__(self, n_users: int, n_items: int, factors: int = 64, mean_rating: float = 0.0,
                 trained: list[bool] | None = None):
        super().__init__()
        self.register_buffer("trained", torch.tensor(trained if trained is not None else [True] * n_items))
        self.n_users, self.n_items = n_users, n_items
        self.user_embedding = nn.Embedding(n_users, factors)
        self.item_embedding = nn.Embedding(n_items, factors)
        self.user_bias = nn.Embedding(n_users, 1)
        self.item_bias = nn.Embedding(n_items, 1)
        self.register_buffer("mean_rating", torch.tensor(float(mean_rating)))
        for table in (self.user_embedding, self.item_embedding):
            nn.init.normal_(table.weight, std=0.1 / factors ** 0.5 * 4)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.item_bias.weight)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        vectors, offsets = self.user_vectors(inputs["user"], inputs["history"])
        item_vectors, item_biases, scored = self.item_table()
        return (vectors @ item_vectors.T + item_biases + offsets[:, None]).masked_fill(~scored, UNTRAINED_SCORE)

    def item_side(self, items: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The vectors and biases of ``items`` (any shape of indices; None: every item, ``[n_items, f]``)."""
        if items is None:
            return self.item_embedding.weight, self.item_bias.weight[:, 0]
        return self.item_embedding(items), self.item_bias(items)[..., 0]

    def item_table(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every item's vector and bias, and which items are scored at all (the rest score ``UNTRAINED_SCORE``):
        a user's score for item j is ``u . v_j + b_j`` plus the user's offset (see :meth:`query_vectors`)."""
        vectors, biases = self.item_side()
        return vectors, biases, self.trained

    def query_vectors(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, f]`` user vectors and ``[B]`` offsets (the user's bias and the mean rating, which do not change
        a user's ranking): trained ones for known users, folded in from the history for new ones."""
        return self.user_vectors(inputs["user"], inputs["history"])

    def user_vectors(self, users: torch.Tensor, history: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each user's embedding and bias: trained ones for known users, folded in for new ones."""
        known = users < self.n_users
        index = users.clamp(max=self.n_users - 1)
        if not _exporting() and bool(known.all()):  # no one to fold in (a softmax over every item, 8 times)
            return self.user_embedding(index), self.user_bias(index)[:, 0] + self.mean_rating
        item_vectors, item_biases, scored = self.item_table()
        folded = fold_in(history, item_vectors, item_biases.masked_fill(~scored, UNTRAINED_SCORE))
        vectors = torch.where(known[:, None], self.user_embedding(index), folded)
        biases = torch.where(known, self.user_bias(index)[:, 0], torch.zeros_like(folded[:, 0]))
        return vectors, biases + self.mean_rating

    def pair_scores(self, inputs: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        """Scores of known users (``inputs["user"]``) for items: ``items`` is ``[B]`` (one each) or
        ``[B, m]`` / ``[m]`` (several each, or the same ``m`` for all)."""
        users = inputs["user"]
        vectors, biases = self.user_embedding(users), self.user_bias(users)[:, 0] + self.mean_rating
        item_vectors, item_biases = self.item_side(items)
        if items.dim() == 1 and len(items) == len(users):
            return (vectors * item_vectors).sum(-1) + item_biases + biases
        if items.dim() == 1:
            return vectors @ item_vectors.T + item_biases + biases[:, None]
        return torch.einsum("bf,bmf->bm", vectors, item_vectors) + item_biases + biases[:, None]

    def penalty(self, inputs: dict[str, torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        """The squared norms of the embeddings a batch uses, per user."""
        users = inputs["user"]
        return (self.user_embedding(users).pow(2).sum() + self.item_side(items)[0].pow(2).sum()) / len(users)

    def item_vectors(self) -> torch.Tensor:
        """One vector per item, for similar items and maps of the catalogue."""
        return self.item_side()[0]


def _exporting() -> bool:
    """Whether the model is being traced for an export, which must hold the fold-in whatever the example."""
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()


def fold_in(history: torch.Tensor, item_vectors: torch.Tensor, item_biases: torch.Tensor,
            steps: int = FOLD_IN_STEPS) -> torch.Tensor:
    """User embeddings that make their ``history`` items likely under a softmax over every item, the
    items frozen: proximal gradient ascent from zero on ``mean log p(history) - penalty/|history| * |u|^2 / 2``
    (a gradient step on the likelihood, then the shrinkage of the penalty in closed form).

    Args:
        history: ``[B, L]`` item indices; ``-1`` pads.
        item_vectors: ``[n_items, f]``.
        item_biases: ``[n_items]``.
    """
    present = (history >= 0).to(item_vectors.dtype)  # [B, L]
    count = present.sum(1, keepdim=True)
    liked = (item_vectors[history.clamp(min=0)] * present[..., None]).sum(1) / count.clamp(min=1)
    spread = item_vectors.pow(2).sum(1).mean().clamp(min=1e-6)
    rate = FOLD_IN_RATE / spread
    shrink = 1 + rate * FOLD_IN_PENALTY / count.clamp(min=1)
    vectors = torch.zeros_like(liked)
    for _ in range(steps):
        probabilities = torch.softmax(vectors @ item_vectors.T + item_biases, dim=1)
        vectors = (vectors + rate * (liked - probabilities @ item_vectors)) / shrink
    return vectors * (count > 0)
