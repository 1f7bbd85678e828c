"""What a detector learns from: every row of the table, anomalies included, since nobody said which are.
So that the anomalies among them are not learned as normal (a bot's burst of fifty orders is a pattern an
autoencoder can memorise), each training batch leaves out its worst-fitting rows (a trimmed loss, as robust
estimators do): what the model cannot yet explain is never pulled towards it."""

from __future__ import annotations

import torch

TRIMMED_SHARE = 0.05  # of each training batch: the rows with the largest error, left out of the loss


def trimmed_loss(outputs: torch.Tensor, stage: str) -> torch.Tensor:
    """The mean per-row error (summed over features) of the batch, without its ``TRIMMED_SHARE`` worst rows
    in training; every row in validation, so its loss compares across epochs."""
    per_row = outputs.float().sum(dim=1)
    if stage != "train" or len(per_row) < 20:
        return per_row.mean()
    kept = max(1, int(len(per_row) * (1 - TRIMMED_SHARE)))
    return torch.topk(per_row, kept, largest=False).values.mean()
