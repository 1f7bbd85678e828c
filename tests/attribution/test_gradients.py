"""Gradient mode: gradients even under inference_mode, and the model left exactly as it was."""

from __future__ import annotations

import torch
from torch import nn

from torchworks.attribution.gradients import (
    as_gradient_inputs,
    fixed_randomness,
    gradient_mode,
    model_device,
    positional,
)


class Pair(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.dropout = nn.Dropout(0.5)
        self.frozen = nn.Linear(2, 2)
        self.frozen.requires_grad_(False)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.frozen(self.dropout(self.linear(inputs["a"] + inputs["b"])))


def test_gradients_flow_inside_inference_mode_and_every_flag_comes_back():
    model = Pair().train()
    model.frozen.eval()  # a mixed state: restored module by module, not by one model.train()
    with torch.inference_mode():
        a, b = torch.ones(1, 3), torch.zeros(1, 3)
        with gradient_mode(model):
            assert not model.training and not model.dropout.training
            assert not any(p.requires_grad for p in model.parameters())
            inputs = as_gradient_inputs({"a": a, "b": b}, model_device(model))
            x = inputs["a"].requires_grad_()
            positional(model, ["a", "b"])(x, inputs["b"]).sum().backward()
            # d/da sum(F (W (a + b) + c) + d) = 1^T F W, dropout being off
            expected = torch.ones(1, 2) @ model.frozen.weight.detach() @ model.linear.weight.detach()
            assert x.grad is not None and torch.allclose(x.grad, expected, atol=1e-6), (x.grad, expected)
    assert model.training and model.dropout.training and not model.frozen.training
    assert model.linear.weight.requires_grad and not model.frozen.weight.requires_grad
    assert model.linear.weight.grad is None, "no parameter gradient is accumulated"


def test_flags_come_back_when_the_explanation_fails():
    model = Pair().train()
    try:
        with gradient_mode(model):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert model.training and model.linear.weight.requires_grad


def test_fixed_randomness_repeats_draws_and_gives_the_callers_state_back():
    import numpy as np

    torch.manual_seed(5)
    np.random.seed(5)
    expected_torch, expected_numpy = torch.rand(1), np.random.rand()
    torch.manual_seed(5)
    np.random.seed(5)
    with fixed_randomness():
        first = (torch.rand(1), np.random.rand())
    with fixed_randomness():
        assert (torch.rand(1), np.random.rand()) == first
    assert torch.rand(1) == expected_torch and np.random.rand() == expected_numpy
