"""Where torchvision's pretrained weights live on this machine, shared by the tasks that start from them.

torchworks never downloads at training time: a missing file is an immediate error saying which file to
fetch and where to put it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from torchworks.errors import ConfigError

if TYPE_CHECKING:
    from torch import Tensor


def cached_torchvision_weights(name: str) -> Path:
    """The local torch-hub file of torchvision's default weights for the model ``name``.

    Raises:
        ConfigError: The file is not there, with the URL to fetch and the path to copy it to.
    """
    import torch
    import torchvision

    default = torchvision.models.get_model_weights(name).DEFAULT
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(default.url).name
    if not cached.is_file():
        raise ConfigError(
            f"pretrained weights for {name} are not on this machine",
            expected=f"the file {cached} (torchvision's {default} weights)",
            got="no such file, and torchworks does not download at training time",
            hint=f"on a machine with internet fetch {default.url} and copy it to {cached}, "
                 "or pass weights=path/to/file.pth",
        )
    return cached


def read_weights_file(path: Path) -> dict[str, Tensor]:
    """The state dict in ``path``: ``.pth``/``.pt`` through ``torch.load(weights_only=True)`` (no pickled
    code runs), or ``.safetensors`` (its header checked first); a checkpoint that wraps the weights in
    ``state_dict`` or ``model`` is unwrapped.

    Raises:
        ConfigError: The file is missing, unreadable, or not a mapping of names to tensors.
    """
    import torch

    if not path.is_file():
        raise ConfigError(f"weights file '{path}' does not exist", expected="a .pth, .pt or .safetensors file",
                          got="no such file", hint="check the weights= path")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            from torchworks.bundle.safetensors_check import read_safetensors_header

            read_safetensors_header(path)
            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=_is_zip(path))
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same answer
        raise ConfigError(f"cannot read weights file '{path}'", expected="a state dict of tensors (no pickled code)",
                          got=f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}",
                          hint="save the weights with torch.save(model.state_dict(), path)") from None
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"weights file '{path}' is not a state dict", expected="a mapping of names to tensors",
                          got=type(state).__name__ if not isinstance(state, dict) or not state
                          else "a mapping with values that are not tensors",
                          hint="save the weights with torch.save(model.state_dict(), path)")
    return state


def without_prefix(state: Mapping[str, Tensor], own: Mapping[str, Tensor]) -> Mapping[str, Tensor]:
    """``state`` with the key prefix removed that makes most of its keys ours (a saved wrapper has ``model.``)."""
    best, best_hits = state, sum(key in own for key in state)
    for prefix in ("model.", "module.", "module.model.", "model.model."):
        trimmed = {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
        hits = sum(key in own for key in trimmed)
        if hits > best_hits:
            best, best_hits = trimmed, hits
    return best


def _is_zip(path: Path) -> bool:
    """Whether ``path`` is a zip archive (torch's own format, which can be memory-mapped)."""
    with path.open("rb") as handle:
        return handle.read(4) == b"PK\x03\x04"
