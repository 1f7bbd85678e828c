"""Turn ``device=`` and ``precision=`` into Lightning's accelerator and precision settings."""

from __future__ import annotations

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
