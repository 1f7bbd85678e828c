"""Pinball / MSE losses and the point-forecast column of the forecasting task."""

from __future__ import annotations

import pytest
import torch

from torchworks.tasks.forecasting.losses import forecast_loss, pinball_loss, point_forecast


def test_pinball_loss_hand_computed() -> None:
    predictions = torch.tensor([[[1.0, 2.0, 3.0]]])  # (B=1, H=1, Q=3)
    targets = torch.tensor([[2.5]])
    # errors y - q: 1.5, 0.5, -0.5 -> losses 0.1*1.5, 0.5*0.5, (0.9-1)*(-0.5)
    expected = (0.15 + 0.25 + 0.05) / 3
    assert pinball_loss(predictions, targets, [0.1, 0.5, 0.9]).item() == pytest.approx(expected)


def test_pinball_minimiser_is_the_empirical_quantile() -> None:
    torch.manual_seed(0)
    samples = torch.randn(2000)
    targets = samples.view(-1, 1)
    level = 0.8
    estimate = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([estimate], lr=0.05)
    for _ in range(600):
        predictions = estimate.expand(len(samples), 1, 1)
        loss = pinball_loss(predictions, targets, [level])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert estimate.item() == pytest.approx(torch.quantile(samples, level).item(), abs=0.05)


def test_forecast_loss_without_quantiles_is_mse_on_first_column() -> None:
    predictions = torch.tensor([[[1.0, 9.0], [3.0, 9.0]]])
    targets = torch.tensor([[2.0, 1.0]])
    assert forecast_loss(predictions, targets, []).item() == pytest.approx((1 + 4) / 2)


def test_forecast_loss_uses_pinball_with_quantiles() -> None:
    torch.manual_seed(0)
    predictions, targets = torch.randn(4, 3, 3), torch.randn(4, 3)
    quantiles = [0.1, 0.5, 0.9]
    assert torch.equal(forecast_loss(predictions, targets, quantiles), pinball_loss(predictions, targets, quantiles))


@pytest.mark.parametrize("quantiles", [[], [0.1, 0.5, 0.9]])
def test_forecast_loss_is_float32_for_bf16_inputs(quantiles: list[float]) -> None:
    predictions = torch.randn(4, 3, max(1, len(quantiles))).bfloat16()
    targets = torch.randn(4, 3).bfloat16()
    loss = forecast_loss(predictions, targets, quantiles)
    assert loss.dtype == torch.float32
    assert torch.isfinite(loss)


def test_point_forecast_picks_median_or_first_column() -> None:
    predictions = torch.arange(12.0).view(2, 2, 3)
    assert torch.equal(point_forecast(predictions, [0.1, 0.5, 0.9]), predictions[..., 1])
    assert torch.equal(point_forecast(predictions[..., :1], []), predictions[..., 0])
    assert point_forecast(predictions, [0.1, 0.5, 0.9]).shape == (2, 2)
