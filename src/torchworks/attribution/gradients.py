"""Gradients on demand for a model that otherwise runs under ``torch.inference_mode``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch import nn


@contextlib.contextmanager
def gradient_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode, gradients enabled (even inside ``inference_mode``) and parameters frozen; on exit
    every module's train flag and every parameter's ``requires_grad`` are as they were.

    Attributions need gradients with respect to inputs or activations only, so the parameters stay
    out of the autograd graph. cuDNN's recurrent kernels backpropagate only in training mode (which
    would turn dropout on); on a GPU, cuDNN is off instead while a model with an RNN is explained.
    """
    modes = [(module, module.training) for module in model.modules()]
    flags = [(parameter, parameter.requires_grad) for parameter in model.parameters()]
    recurrent_on_gpu = any(isinstance(m, nn.RNNBase) for m in model.modules()) and any(
        p.is_cuda for p in model.parameters())
    try:
        model.eval()
        for parameter, _ in flags:
            parameter.requires_grad_(False)
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.inference_mode(False))
            stack.enter_context(torch.enable_grad())
            if recurrent_on_gpu:
                stack.enter_context(_cudnn_disabled())
            yield model
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)
        for module, training in modes:
            module.training = training


@contextlib.contextmanager
def _cudnn_disabled() -> Iterator[None]:
    before = torch.backends.cudnn.enabled
    torch.backends.cudnn.enabled = False
    try:
        yield
    finally:
        torch.backends.cudnn.enabled = before


def as_gradient_inputs(inputs: Any, device: torch.device) -> Any:
    """Model inputs (a tensor or a dict of tensors) on ``device`` as ordinary tensors: a tensor made
    under ``inference_mode`` cannot be part of a backward pass, so it is copied. Call inside
    :func:`gradient_mode`."""
    if isinstance(inputs, Mapping):
        return {name: as_gradient_inputs(value, device) for name, value in inputs.items()}
    if isinstance(inputs, torch.Tensor):
        moved = inputs.to(device)
        return moved.clone() if moved.is_inference() else moved
    return inputs


def positional(model: nn.Module, names: list[str]) -> Callable[..., torch.Tensor]:
    """``model`` (which takes a dict of named tensors) as a function of those tensors in ``names``
    order: what Captum differentiates (it attributes to positional inputs)."""

    def forward(*tensors: torch.Tensor) -> torch.Tensor:
        return model(dict(zip(names, tensors)))

    return forward


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters live (the CPU for a model without any)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


@contextlib.contextmanager
def fixed_randomness(seed: int = 0) -> Iterator[None]:
    """Seed torch's and numpy's global generators (sampling methods such as Captum's GradientShap
    draw from both) so that an explanation is the same every time; the caller's random state is
    put back afterwards."""
    import numpy as np

    numpy_state = np.random.get_state()
    gpus = [torch.cuda.current_device()] if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=gpus):
        torch.manual_seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(numpy_state)
