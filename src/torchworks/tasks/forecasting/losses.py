"""Training losses of the forecasting task: squared error, or pinball loss for quantile forecasts."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def pinball_loss(predictions: Tensor, targets: Tensor, quantiles: Sequence[float]) -> Tensor:
    """Mean quantile (pinball) loss of ``predictions`` (B, H, Q) against ``targets`` (B, H)."""
    levels = torch.as_tensor(list(quantiles), dtype=predictions.dtype, device=predictions.device)
    error = targets.unsqueeze(-1) - predictions
    return torch.maximum(levels * error, (levels - 1) * error).mean()


def forecast_loss(predictions: Tensor, targets: Tensor, quantiles: Sequence[float]) -> Tensor:
    """MSE on ``predictions[..., 0]`` without quantiles, else pinball loss; always computed in float32."""
    predictions = predictions.float()
    targets = targets.float()
    if not quantiles:
        return F.mse_loss(predictions[..., 0], targets)
    return pinball_loss(predictions, targets, quantiles)


def median_column(quantiles: Sequence[float]) -> int:
    """Index of the 0.5 quantile (the nearest one if absent); 0 without quantiles."""
    if not quantiles:
        return 0
    return min(range(len(quantiles)), key=lambda i: abs(quantiles[i] - 0.5))


def point_forecast(predictions: Tensor, quantiles: Sequence[float]) -> Tensor:
    """Point forecasts (B, H): the median column of quantile forecasts, or column 0."""
    return predictions[..., median_column(quantiles)]
