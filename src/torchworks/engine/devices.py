"""Turn ``device=`` and ``precision=`` into Lightning's accelerator and precision settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torchworks.errors import ConfigError


def resolve_accelerator(device: str) -> str:
    """``auto`` picks CUDA, then MPS, then CPU; asking for a missing device is a clear error."""
    import torch

    available = {
        "cuda": torch.cuda.is_available(),
        "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
        "cpu": True,
    }
    if device == "auto":
        return next(name for name in ("cuda", "mps", "cpu") if available[name])
    if not available[device]:
        raise ConfigError(
            f"device '{device}' is not available on this machine",
            expected="device=auto or a device this machine has",
            got=device,
            hint="use device=auto (falls back to the CPU) or device=cpu",
        )
    return device


def resolve_precision(precision: str, accelerator: str) -> str:
    """``auto`` is bf16-mixed on a GPU with bf16 support, 16-mixed on other GPUs, else 32-bit."""
    import torch

    if precision != "auto":
        if precision != "32" and accelerator == "cpu" and precision == "16-mixed":
            raise ConfigError(
                "precision '16-mixed' needs a GPU",
                expected="precision=32 or bf16-mixed on the CPU",
                got=precision,
                hint="use precision=auto",
            )
        return "32-true" if precision == "32" else precision
    if accelerator == "cuda":
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def bf16_cpu_failure(model: Any, example: Any) -> str | None:
    """Why ``model`` cannot run under CPU bf16 autocast on this machine, or ``None`` when it can.

    Support depends on the CPU and on the layers: oneDNN has no bf16 LSTM primitive on CPUs without
    native bf16 instructions, and says so only when the model first runs. One forward pass on
    ``example`` finds out before training starts. The model runs in eval mode with the random state
    forked, so the probe leaves no trace (no batch-norm statistics, no consumed random numbers).
    """
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            model(example)
    except RuntimeError as exc:
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    finally:
        model.train(was_training)
    return None


def supported_precision(precision: str, accelerator: str, model: Any, example: Callable[[], Any]) -> str:
    """``precision``, or ``32-true`` with one warning when bf16-mixed is asked for on a CPU that cannot run
    this model in bf16. ``example`` makes a small input batch; it is called only when a probe is needed."""
    if precision != "bf16-mixed" or accelerator != "cpu":
        return precision
    reason = bf16_cpu_failure(model, example())
    if reason is None:
        return precision
    from rich.markup import escape

    from torchworks.console import say

    say(f"[yellow]warning: precision=bf16-mixed does not run on this CPU ({escape(reason)}); "
        "training in 32-true instead[/yellow]")
    return "32-true"
