"""The network front end every table model shares: each feature becomes a token of ``width`` numbers.

A number becomes a token through periodic embeddings (learned frequencies, sine and cosine, then a small
linear layer per feature and a ReLU: Gorishniy et al., "On Embeddings for Numerical Features in Tabular
Deep Learning", 2022), which let an MLP follow sharp steps in one feature that a single scaled input
cannot. Inputs are first squashed with asinh, so an extreme value stays distinct without dominating. A
category becomes a learned embedding per value (index 0: unknown, 1: missing).

Explanations attribute to the tokens: replacing a feature's token by the token of a typical row (the median,
an unknown category) is "this feature told the model nothing".
"""

from __future__ import annotations

import math

import torch
from torch import nn

FREQUENCIES = 16
FREQUENCY_SCALE = 0.1
SQUASH = 3.0  # asinh(x / 3) * 3: linear within about +-3 standardised units, logarithmic beyond
UNKNOWN_RATE = 0.02  # categories hidden as "unknown" in training, so the unknown embedding learns something


class FeatureTokens(nn.Module):
    """``(numeric [n, N], categorical [n, C]) -> tokens [n, N + C, width]``."""

    def __init__(self, numeric: int, cardinalities: list[int], width: int):
        super().__init__()
        self.numeric, self.width = numeric, width
        self.frequencies = nn.Parameter(torch.randn(numeric, FREQUENCIES) * FREQUENCY_SCALE)
        self.weight = nn.Parameter(torch.empty(numeric, 2 * FREQUENCIES, width))
        self.bias = nn.Parameter(torch.zeros(numeric, width))
        nn.init.uniform_(self.weight, -1 / math.sqrt(2 * FREQUENCIES), 1 / math.sqrt(2 * FREQUENCIES))
        offsets = torch.tensor([0, *cardinalities[:-1]], dtype=torch.long).cumsum(0) if cardinalities \
            else torch.zeros(0, dtype=torch.long)
        self.register_buffer("offsets", offsets, persistent=False)
        self.categories = nn.Embedding(max(1, sum(cardinalities)), width)
        nn.init.normal_(self.categories.weight, std=1 / math.sqrt(width))

    @property
    def features(self) -> int:
        return self.numeric + len(self.offsets)

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        tokens = []
        if self.numeric:
            squashed = squash(numeric.float())
            angles = 2 * math.pi * squashed.unsqueeze(-1) * self.frequencies  # [n, N, F]
            periodic = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
            tokens.append(torch.relu(torch.einsum("nfp,fpw->nfw", periodic, self.weight) + self.bias))
        if len(self.offsets):
            if self.training:  # rare and unseen values share index 0: it must mean "a value like any other"
                categorical = torch.where(torch.rand(categorical.shape, device=categorical.device) < UNKNOWN_RATE,
                                          torch.zeros_like(categorical), categorical)
            tokens.append(self.categories(categorical + self.offsets))
        return torch.cat(tokens, dim=1)


def squash(values: torch.Tensor) -> torch.Tensor:
    """``asinh(x / 3) * 3``, written out (sign times log) because the ONNX exporter has no asinh."""
    scaled = values / SQUASH
    return torch.sign(scaled) * torch.log(scaled.abs() + torch.sqrt(scaled * scaled + 1)) * SQUASH


def unsquash(values: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`squash`: ``sinh(y / 3) * 3`` (clamped, so a wild guess stays finite)."""
    scaled = values.clamp(-30 * SQUASH, 30 * SQUASH) / SQUASH
    return (torch.exp(scaled) - torch.exp(-scaled)) / 2 * SQUASH


def reference_inputs(numeric: int, categorical: int, rows: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """A typical row's inputs: every number at its training median (0 once standardised), every category
    unknown (index 0): the baseline explanations compare against."""
    return torch.zeros(rows, numeric), torch.zeros(rows, categorical, dtype=torch.long)
