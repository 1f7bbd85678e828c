"""Forecasting networks: DLinear, LSTM, GRU and a small transformer encoder.

Every network maps a window ``x`` of shape ``(batch, lookback, n_features)`` (feature 0 is the scaled
target, the others past covariates) to direct multi-horizon forecasts of shape
``(batch, horizon, n_outputs)`` (one column per quantile, or one for a point forecast).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

FORECASTERS = ("dlinear", "lstm", "gru", "transformer")
MAX_KERNEL = 25


def moving_average_kernel(lookback: int) -> int:
    """Odd moving-average window for the DLinear trend: 25, or smaller for short lookbacks."""
    kernel = min(MAX_KERNEL, lookback)
    return kernel if kernel % 2 else max(1, kernel - 1)


class MovingAverage(nn.Module):
    """Centred moving average along time with replicate padding at both ends (length preserved)."""

    def __init__(self, kernel: int):
        super().__init__()
        self.kernel = kernel
        self.front = (kernel - 1) // 2
        self.back = kernel - 1 - self.front

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (batch, time, features) -> trend of the same shape."""
        channels_first = x.transpose(1, 2)
        padded = F.pad(channels_first, (self.front, self.back), mode="replicate")
        return F.avg_pool1d(padded, self.kernel, stride=1).transpose(1, 2)


class DLinear(nn.Module):
    """Trend (moving average) + remainder, each mapped lookback -> horizon by one linear layer.

    The maps read all features (``lookback * n_features`` inputs), so covariates can contribute.
    Weights start at zero: with the level-relative wrapper the untrained model is the naive forecast.
    """

    def __init__(self, lookback: int, horizon: int, n_features: int, n_outputs: int):
        super().__init__()
        self.horizon = horizon
        self.n_outputs = n_outputs
        self.decompose = MovingAverage(moving_average_kernel(lookback))
        self.trend = nn.Linear(lookback * n_features, horizon * n_outputs)
        self.remainder = nn.Linear(lookback * n_features, horizon * n_outputs)
        for layer in (self.trend, self.remainder):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        trend = self.decompose(x)
        remainder = x - trend
        out = self.trend(trend.flatten(1)) + self.remainder(remainder.flatten(1))
        return out.unflatten(1, (self.horizon, self.n_outputs))


def mlp_head(width: int, hidden: int, outputs: int, dropout: float) -> nn.Sequential:
    """Two-layer MLP from pooled features to ``outputs`` numbers."""
    return nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, outputs))


class RecurrentForecaster(nn.Module):
    """LSTM or GRU encoder over the lookback; the last hidden state feeds an MLP head."""

    def __init__(self, cell: str, horizon: int, n_features: int, n_outputs: int, hidden: int, layers: int,
                 dropout: float):
        super().__init__()
        self.horizon = horizon
        self.n_outputs = n_outputs
        rnn_class = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn_class(n_features, hidden, num_layers=layers, batch_first=True,
                             dropout=dropout if layers > 1 else 0.0)
        self.head = mlp_head(hidden, hidden, horizon * n_outputs, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sequence, _ = self.rnn(x)
        out = self.head(sequence[:, -1])
        return out.unflatten(1, (self.horizon, self.n_outputs))


class SinusoidalPositions(nn.Module):
    """Fixed sine/cosine position encoding added to a (batch, time, width) sequence; a buffer."""

    positions: torch.Tensor

    def __init__(self, length: int, width: int):
        super().__init__()
        position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
        frequency = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10_000.0) / width))
        table = torch.zeros(length, width)
        table[:, 0::2] = torch.sin(position * frequency)
        table[:, 1::2] = torch.cos(position * frequency[: width // 2])
        self.register_buffer("positions", table, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.positions.to(x.dtype)


class TransformerForecaster(nn.Module):
    """Input projection, sinusoidal positions, pre-norm transformer encoder, pooled MLP head.

    Pooling concatenates the last time step with the mean over time.
    """

    def __init__(self, lookback: int, horizon: int, n_features: int, n_outputs: int, hidden: int, layers: int,
                 heads: int, dropout: float):
        super().__init__()
        self.horizon = horizon
        self.n_outputs = n_outputs
        self.project = nn.Linear(n_features, hidden)
        self.positions = SinusoidalPositions(lookback, hidden)
        layer = nn.TransformerEncoderLayer(hidden, heads, dim_feedforward=2 * hidden, dropout=dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(hidden), enable_nested_tensor=False)
        self.head = mlp_head(2 * hidden, hidden, horizon * n_outputs, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        encoded = self.encoder(self.positions(self.project(x)))
        pooled = torch.cat([encoded[:, -1], encoded.mean(dim=1)], dim=-1)
        return self.head(pooled).unflatten(1, (self.horizon, self.n_outputs))


class LevelRelative(nn.Module):
    """Subtract the window's last target value from the target channel, add it back to every output.

    The wrapped network thus learns changes from the current level, which extrapolates trending series.
    Covariates (features 1..) pass unchanged.
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        level = x[:, -1:, :1]
        shifted = torch.cat([x[..., :1] - level, x[..., 1:]], dim=-1)
        return self.net(shifted) + level


def build_forecaster(name: str, *, lookback: int, horizon: int, n_features: int, n_outputs: int,
                     hidden: int, layers: int, heads: int, dropout: float,
                     level_relative: bool = True) -> nn.Module:
    """The forecasting network ``name`` (dlinear, lstm, gru, transformer), level-relative by default."""
    net: nn.Module
    if name == "dlinear":
        net = DLinear(lookback, horizon, n_features, n_outputs)
    elif name in ("lstm", "gru"):
        net = RecurrentForecaster(name, horizon, n_features, n_outputs, hidden, layers, dropout)
    elif name == "transformer":
        if hidden % heads:
            raise ValueError(f"hidden={hidden} must be a multiple of heads={heads}")
        net = TransformerForecaster(lookback, horizon, n_features, n_outputs, hidden, layers, heads, dropout)
    else:
        raise ValueError(f"unknown forecasting model {name!r}; choose one of {', '.join(FORECASTERS)}")
    return LevelRelative(net) if level_relative else net
