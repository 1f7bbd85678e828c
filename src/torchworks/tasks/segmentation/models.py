"""The segmentation networks by name: the U-Net that trains from scratch on a CPU, and torchvision's.

Every network here takes images ``[B, 3, H, W]`` (RGB in [0, 1]) of any height and width and returns
logits ``[B, C, H, W]`` of the same height and width, so no size is ever refused: the U-Net pads to its
stride and crops back; torchvision's models upsample their output to the input's size themselves.

Pretrained torchvision weights (``pretrained=true``: torchvision's default weights for the model from the
local torch cache; or ``weights=FILE``) load into everything but the class-specific output layers,
which start fresh for the user's classes. Nothing is downloaded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchworks.errors import ConfigError, did_you_mean
from torchworks.tasks.segmentation.config import MODEL_NAMES
from torchworks.tasks.segmentation.unet import UNet
from torchworks.weights import cached_torchvision_weights, read_weights_file, without_prefix

UNET = "unet"
TORCHVISION_MODELS = tuple(name for name in MODEL_NAMES if name != UNET)
# torchvision's class-specific layers (and the auxiliary head we do not train), left fresh or out
_HEAD_KEYS = re.compile(r"^(classifier\.4\.|classifier\.(low|high)_classifier\.|aux_classifier\.)")
# ImageNet statistics the torchvision backbones were trained with
_MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def architecture_of(config: Any) -> dict[str, Any]:
    """The constructor options a new run of ``config.model`` trains with, recorded in its bundle."""
    if config.model == UNET:
        return {"base_channels": config.base_channels, "depth": config.depth, "input_stride": config.input_stride}
    return {}


def check_model(name: str, pretrained: bool, weights_file: str | None) -> None:
    """Raise ConfigError now for an unknown network, or weights that are not on this machine."""
    if name not in MODEL_NAMES:
        raise ConfigError(f"unknown segmentation model '{name}'", expected="one of " + ", ".join(MODEL_NAMES),
                          got=name, hint=did_you_mean(name, MODEL_NAMES))
    if name == UNET and (pretrained or weights_file):
        raise ConfigError("the unet has no pretrained weights", expected="pretrained=false, or a torchvision model",
                          got="model=unet " + ("pretrained=true" if pretrained else f"weights={weights_file}"),
                          hint="drop pretrained=/weights=, or use model=deeplabv3_mobilenet_v3_large pretrained=true")
    if weights_file:
        read_weights_file(Path(weights_file).expanduser())
    elif pretrained:
        cached_torchvision_weights(name)


def build_segmenter(name: str, num_classes: int, architecture: dict[str, Any], *, pretrained: bool = False,
                    weights_file: str | None = None) -> nn.Module:
    """The network ``name`` for ``num_classes`` classes, built with ``architecture`` (the U-Net's options);
    a torchvision model starts from its pretrained weights when ``pretrained`` or ``weights_file``."""
    if name == UNET:
        return UNet(num_classes, **architecture)
    initial = None
    if weights_file:
        initial = read_weights_file(Path(weights_file).expanduser())
    elif pretrained:
        initial = read_weights_file(cached_torchvision_weights(name))
    return TorchvisionSegmenter(name, num_classes, initial)


class TorchvisionSegmenter(nn.Module):
    """torchvision's segmentation model ``name`` with ``num_classes`` outputs, taking images in [0, 1]
    (normalised inside, as its backbone expects) and returning the ``out`` logits alone."""

    def __init__(self, name: str, num_classes: int, initial_state: dict[str, torch.Tensor] | None = None):
        super().__init__()
        import torchvision

        options: dict[str, Any] = {"weights": None, "weights_backbone": None, "num_classes": num_classes}
        if name != "lraspp_mobilenet_v3_large":
            options["aux_loss"] = False
        self.model = torchvision.models.get_model(name, **options)
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        self.initialisation = f"{name}: random weights"
        if initial_state is not None:
            loaded = _load_all_but_head(self.model, initial_state, name)
            self.initialisation = f"{name}: {loaded} pretrained tensors, a new {num_classes}-class output layer"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model((images - self.mean) / self.std)["out"]


def _load_all_but_head(model: nn.Module, state: dict[str, torch.Tensor], name: str) -> int:
    """Load ``state`` into ``model`` except the class-specific layers; the number of tensors loaded.

    Raises:
        ConfigError: The weights are of another architecture.
    """
    own = model.state_dict()
    state = dict(without_prefix(state, own))
    usable = {key: value for key, value in state.items()
              if key in own and not _HEAD_KEYS.match(key) and own[key].shape == value.shape}
    missing = [key for key in own if key not in usable and not _HEAD_KEYS.match(key)
               and not key.endswith("num_batches_tracked")]
    if missing:
        raise ConfigError(f"weights do not fit {name}", expected=f"a {name} state dict",
                          got=f"{len(missing)} of {len(own)} tensors missing or mis-shaped (e.g. {missing[0]})",
                          hint="pass the weights of the same architecture as model=")
    model.load_state_dict(usable, strict=False)
    return len(usable)
