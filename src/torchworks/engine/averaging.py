"""An exponential moving average of the weights while training (``ema=DECAY``), through Lightning's
:class:`WeightAveraging`: validation and the best checkpoint see the averaged weights, and the model
that ends up in the bundle is the average.

The decay ramps up as ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so the average follows the
fast early changes of a short run instead of holding on to its random start.
"""

from __future__ import annotations

import torch
from lightning.pytorch.callbacks import WeightAveraging


def warming_decay(decay: float, updates: int) -> float:
    """The weight of the old average after ``updates`` earlier updates: small at first, ``decay`` later."""
    return min(decay, (1.0 + updates) / (10.0 + updates))


class ExponentialAverage(WeightAveraging):
    """Keeps ``average <- d * average + (1 - d) * weights`` after every optimiser step, with ``d``
    from :func:`warming_decay`; buffers (batch-norm statistics) are averaged the same way."""

    def __init__(self, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"an EMA decay lies strictly between 0 and 1, got {decay}")

        def blend(averaged: list[torch.Tensor], current: list[torch.Tensor], updates: torch.Tensor) -> None:
            keep = warming_decay(decay, int(updates))
            floats = [(a, c) for a, c in zip(averaged, current) if a.is_floating_point()]
            if floats:
                torch._foreach_lerp_([a for a, _ in floats], [c for _, c in floats], 1.0 - keep)
            for a, c in zip(averaged, current):  # counters (batch-norm's num_batches_tracked) are copied
                if not a.is_floating_point():
                    a.copy_(c)

        super().__init__(multi_avg_fn=blend, use_buffers=True)
