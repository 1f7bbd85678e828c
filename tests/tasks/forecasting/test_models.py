"""Forecasting networks: shapes, determinism, level-relative wrapper and a tiny fit."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from torchworks.engine.devices import bf16_cpu_failure
from torchworks.tasks.forecasting.models import (
    FORECASTERS,
    LevelRelative,
    MovingAverage,
    SinusoidalPositions,
    build_forecaster,
    moving_average_kernel,
)


def make(name: str, *, lookback: int = 16, horizon: int = 4, n_features: int = 1, n_outputs: int = 1,
         level_relative: bool = True, dropout: float = 0.1) -> nn.Module:
    return build_forecaster(name, lookback=lookback, horizon=horizon, n_features=n_features, n_outputs=n_outputs,
                            hidden=16, layers=2, heads=4, dropout=dropout, level_relative=level_relative)


@pytest.mark.parametrize("name", FORECASTERS)
@pytest.mark.parametrize("n_features", [1, 3])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_output_shape(name: str, n_features: int, n_outputs: int) -> None:
    torch.manual_seed(0)
    model = make(name, n_features=n_features, n_outputs=n_outputs)
    out = model(torch.randn(5, 16, n_features))
    assert out.shape == (5, 4, n_outputs)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", FORECASTERS)
def test_lookback_shorter_than_kernel(name: str) -> None:
    model = make(name, lookback=6, n_features=2)
    assert make(name, lookback=6).__class__ is LevelRelative
    assert model(torch.randn(3, 6, 2)).shape == (3, 4, 1)


def test_moving_average_kernel_and_padding() -> None:
    assert moving_average_kernel(100) == 25
    assert moving_average_kernel(6) == 5
    assert moving_average_kernel(2) == 1
    average = MovingAverage(5)
    constant = torch.full((2, 9, 3), 7.0)
    assert torch.allclose(average(constant), constant)
    ramp = torch.arange(9.0).view(1, 9, 1)
    assert torch.allclose(average(ramp)[0, 2:-2, 0], ramp[0, 2:-2, 0])


@pytest.mark.parametrize("name", FORECASTERS)
def test_same_seed_same_weights_and_outputs(name: str) -> None:
    x = torch.randn(4, 16, 2)
    models = []
    for _ in range(2):
        torch.manual_seed(123)
        models.append(make(name, n_features=2).eval())
    for (key_a, a), (key_b, b) in zip(models[0].state_dict().items(), models[1].state_dict().items(), strict=True):
        assert key_a == key_b and torch.equal(a, b)
    assert torch.equal(models[0](x), models[1](x))


def test_dlinear_level_shift_is_exact() -> None:
    torch.manual_seed(0)
    model = make("dlinear", n_features=2, n_outputs=3)
    for parameter in model.parameters():
        nn.init.normal_(parameter)  # DLinear starts at zero; make it non-trivial
    x = torch.randn(4, 16, 2)
    shifted = x.clone()
    shifted[..., 0] += 5.0
    assert torch.allclose(model(shifted), model(x) + 5.0, atol=1e-4)


def test_dlinear_covariates_contribute() -> None:
    torch.manual_seed(0)
    model = make("dlinear", n_features=2)
    for parameter in model.parameters():
        nn.init.normal_(parameter)
    x = torch.randn(4, 16, 2)
    other = x.clone()
    other[..., 1] += 1.0
    assert not torch.allclose(model(x), model(other))


class Recorder(nn.Module):
    """Returns a constant and remembers what it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = x
        return torch.zeros(x.shape[0], 3, 2)


def test_level_relative_wrapper_subtracts_and_adds_back() -> None:
    inner = Recorder()
    wrapper = LevelRelative(inner)
    x = torch.randn(2, 5, 3)
    out = wrapper(x)
    level = x[:, -1, 0]
    assert torch.allclose(inner.seen[..., 0], x[..., 0] - level[:, None])
    assert torch.equal(inner.seen[..., 1:], x[..., 1:])
    assert torch.allclose(out, level[:, None, None].expand(2, 3, 2))
    assert x.shape == (2, 5, 3)


@pytest.mark.parametrize("name", FORECASTERS)
def test_every_model_is_wrapped_by_default(name: str) -> None:
    model = make(name)
    assert isinstance(model, LevelRelative)
    assert all(key.startswith("net.") for key in model.state_dict())
    torch.manual_seed(0)
    x = torch.randn(3, 16, 1)
    model.eval()
    inner_out = model.net(x - x[:, -1:, :1])
    assert torch.allclose(model(x), inner_out + x[:, -1:, :1], atol=1e-6)
    assert not isinstance(make(name, level_relative=False), LevelRelative)


def test_unknown_model_raises() -> None:
    with pytest.raises(ValueError, match="unknown forecasting model 'tcn'"):
        make("tcn")


def test_positional_encoding_is_a_buffer() -> None:
    encoding = SinusoidalPositions(10, 7)
    assert not list(encoding.parameters())
    assert encoding.positions.shape == (10, 7)
    assert torch.allclose(encoding(torch.zeros(1, 10, 7))[0, 0, 1::2], torch.ones(3))
    model = make("transformer")
    assert not any("positions" in name for name, _ in model.named_parameters())


@pytest.mark.parametrize("name", FORECASTERS)
def test_bf16_autocast_and_no_input_mutation(name: str) -> None:
    """bf16 autocast works wherever the engine's probe says it does; where this CPU cannot run the model
    in bf16 (oneDNN has no bf16 LSTM without native bf16 instructions), the probe must say so, since
    training relies on it to fall back to 32-bit."""
    torch.manual_seed(0)
    model = make(name, n_features=2, n_outputs=3)
    x = torch.randn(3, 16, 2)
    before = x.clone()
    reason = bf16_cpu_failure(model, x)
    assert torch.equal(x, before)
    if reason is not None:
        with pytest.raises(RuntimeError), torch.autocast("cpu", dtype=torch.bfloat16):
            model(x)
        return
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    assert out.shape == (3, 4, 3)
    assert torch.isfinite(out.float()).all()
    assert torch.equal(x, before)


@pytest.mark.parametrize("name", FORECASTERS)
def test_exportable(name: str) -> None:
    torch.manual_seed(0)
    model = make(name, n_features=2).eval()
    x = torch.randn(3, 16, 2)
    exported = torch.export.export(model, (x,))
    assert torch.allclose(exported.module()(x), model(x), atol=1e-5)


@pytest.mark.parametrize("name", FORECASTERS)
def test_fits_a_sine(name: str) -> None:
    torch.manual_seed(0)
    lookback, horizon = 16, 4
    steps = torch.arange(200, dtype=torch.float32)
    series = torch.sin(2 * math.pi * steps / 12)
    origins = range(lookback, len(series) - horizon)
    x = torch.stack([series[t - lookback:t] for t in origins]).unsqueeze(-1)
    y = torch.stack([series[t:t + horizon] for t in origins])
    model = make(name, lookback=lookback, horizon=horizon, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss() -> torch.Tensor:
        return nn.functional.mse_loss(model(x)[..., 0], y)

    with torch.no_grad():
        first = loss().item()
    for _ in range(200):
        value = loss()
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
    with torch.no_grad():
        last = loss().item()
    assert last < first / 5
