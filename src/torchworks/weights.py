"""Where torchvision's pretrained weights live on this machine, shared by the tasks that start from them.

torchworks never downloads at training time: a missing file is an immediate error saying which file to
fetch and where to put it.
"""

from __future__ import annotations

from pathlib import Path

from torchworks.errors import ConfigError


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
