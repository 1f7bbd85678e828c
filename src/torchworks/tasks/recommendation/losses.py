"""The training objectives: sampled softmax with popularity-corrected negatives, BPR, and squared error
for ratings. Each takes the model's scores of a batch's positives and of negatives sampled for it."""

from __future__ import annotations

import torch
import torch.nn.functional as F

NEGATIVE_POWER = 0.75  # negatives drawn in proportion to popularity^0.75 (between uniform and popularity)


def negative_distribution(popularity: list[int] | torch.Tensor) -> torch.Tensor:
    """The probability of drawing each item as a negative for the sampled softmax."""
    counts = torch.as_tensor(popularity, dtype=torch.float64)
    weights = (counts + 1.0) ** NEGATIVE_POWER
    return (weights / weights.sum()).float()


def sampled_softmax(positive: torch.Tensor, negative: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor,
                    log_q: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of each positive against ``m`` negatives shared by the batch, every logit corrected
    by the log of its item's sampling probability (so that popular items, drawn often, are not pushed
    down more than the full softmax would), negatives equal to the row's positive masked out.

    Args:
        positive: ``[B]`` scores of the positives.
        negative: ``[B, m]`` scores of the negatives.
        positives: ``[B]`` item indices of the positives.
        negatives: ``[m]`` item indices of the negatives.
        log_q: ``[n_items]`` log sampling probabilities.
        weights: ``[B]`` weights of the positives (recent interactions weigh more), or None.
    """
    corrected = negative - log_q[negatives][None, :]
    corrected = corrected.masked_fill(negatives[None, :] == positives[:, None], float("-inf"))
    logits = torch.cat([(positive - log_q[positives])[:, None], corrected], dim=1)
    losses = F.cross_entropy(logits, torch.zeros(len(positive), dtype=torch.long, device=logits.device),
                             reduction="none")
    return weighted_mean(losses, weights)


def weighted_mean(losses: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """The mean of per-interaction ``losses``, each weighted when ``weights`` is given."""
    if weights is None:
        return losses.mean()
    return (losses * weights).sum() / weights.sum().clamp(min=1e-12)


def bpr(positive: torch.Tensor, negative: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor,
        weights: torch.Tensor | None = None) -> torch.Tensor:
    """Bayesian personalised ranking: ``-log sigmoid(positive - negative)``, averaged over each row's
    negatives (those equal to the positive left out)."""
    valid = (negatives[None, :] != positives[:, None]).to(positive.dtype)
    losses = F.softplus(negative - positive[:, None]) * valid
    return weighted_mean(losses.sum(1) / valid.sum(1).clamp(min=1), weights)


def squared_error(predicted: torch.Tensor, ratings: torch.Tensor) -> torch.Tensor:
    """Mean squared error of predicted ratings."""
    return F.mse_loss(predicted, ratings)
