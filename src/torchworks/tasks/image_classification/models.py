"""Backbones with a replaced head: torchvision classification models by name, or a small CNN."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchworks.errors import ConfigError, did_you_mean
from torchworks.weights import cached_torchvision_weights, read_weights_file

SMALL_CNN = "smallcnn"
AUTO = "auto"
DEFAULT_BACKBONE = "resnet18"
#: model=auto trains smallcnn below this many training images when no pretrained weights are used: 0.14M
#: parameters to fit instead of resnet18's 11M, and a fraction of the compute at small input sizes. A
#: judgement, not a measured crossover: on 80 photo crops both ranked the test images perfectly.
SMALL_DATA_IMAGES = 500


class Classifier(nn.Module):
    """``backbone`` (image -> features) followed by ``head`` (features -> class logits)."""

    def __init__(self, backbone: nn.Module, features: int, num_classes: int, dropout: float):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(features, num_classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images))


def small_cnn(in_channels: int) -> tuple[nn.Module, int]:
    """Three conv stages (32-64-128) with batch norm and global pooling: good for small images."""

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    layers = [*block(in_channels, 32), *block(32, 32), nn.MaxPool2d(2),
              *block(32, 64), *block(64, 64), nn.MaxPool2d(2),
              *block(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers), 128


def chosen_model(name: str, pretrained: bool, weights: str | None, train_images: int | None) -> tuple[str, str]:
    """The architecture a run trains, and why: ``name`` itself unless it is ``auto``.

    ``auto`` is resnet18 when pretrained weights are used, and otherwise decided by the size of the
    training set (``train_images``; None when not known yet, before the data is read): smallcnn below
    :data:`SMALL_DATA_IMAGES` images, resnet18 from that on.
    """
    if name != AUTO:
        return name, "set by model="
    if pretrained or weights:
        return DEFAULT_BACKBONE, "chosen: pretrained weights asked for"
    if train_images is None:
        return AUTO, "decided once the data is read"
    if train_images < SMALL_DATA_IMAGES:
        return SMALL_CNN, f"chosen: {train_images} training images and no pretrained weights"
    return DEFAULT_BACKBONE, f"chosen: {train_images} training images, enough for {DEFAULT_BACKBONE} from scratch"


def available_models() -> list[str]:
    """``smallcnn`` plus every torchvision classification model."""
    import torchvision

    return [SMALL_CNN, *torchvision.models.list_models(module=torchvision.models)]


def build_classifier(name: str, num_classes: int, in_channels: int, dropout: float,
                     pretrained_state: dict[str, torch.Tensor] | None = None) -> Classifier:
    """A :class:`Classifier` around backbone ``name``, optionally starting from ``pretrained_state``."""
    if name == SMALL_CNN:
        backbone, features = small_cnn(in_channels)
        return Classifier(backbone, features, num_classes, dropout)
    import torchvision

    check_model(name, pretrained=False, weights_file=None)
    network = torchvision.models.get_model(name, weights=None)
    if pretrained_state is not None:
        _load_backbone_state(network, pretrained_state, name)
    features = _strip_head(network, name)
    return Classifier(network, features, num_classes, dropout)


def check_model(name: str, pretrained: bool, weights_file: str | None) -> None:
    """Raise ConfigError now for an unknown model or weights that are not on this machine."""
    name = chosen_model(name, pretrained, weights_file, None)[0]
    if name not in (SMALL_CNN, AUTO) and name not in available_models():
        raise ConfigError(f"unknown model '{name}'", expected="auto, smallcnn or a torchvision classification model",
                          got=name, hint=did_you_mean(name, [AUTO, *available_models()]))
    if weights_file:
        if not Path(weights_file).expanduser().is_file():
            raise ConfigError(f"weights file '{weights_file}' does not exist",
                              expected="a .pth, .pt or .safetensors file", got="no such file", hint="check weights=")
    elif pretrained:
        _cached_weights_file(name)


def normalization_of(name: str) -> tuple[list[float], list[float]]:
    """Mean and std that torchvision's default weights for ``name`` expect."""
    import torchvision

    transforms = torchvision.models.get_model_weights(name).DEFAULT.transforms()
    return list(transforms.mean), list(transforms.std)


def pretrained_state(name: str, weights_file: str | None) -> dict[str, torch.Tensor]:
    """Weights from ``weights_file``, or torchvision's default weights from the local torch cache.

    Never downloads: offline machines get an immediate error saying how to provide the file.
    """
    if weights_file:
        return read_weights_file(Path(weights_file).expanduser())
    return read_weights_file(_cached_weights_file(name))


def _cached_weights_file(name: str) -> Path:
    """Where torchvision keeps ``name``'s default weights; ConfigError if they are not there."""
    if name == SMALL_CNN:
        raise ConfigError("smallcnn has no pretrained weights", expected="pretrained=false or a torchvision model",
                          got="model=smallcnn pretrained=true", hint="drop pretrained=true, or pass weights=FILE")
    return cached_torchvision_weights(name)


def _load_backbone_state(network: nn.Module, state: dict[str, Any], name: str) -> None:
    own = network.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    head = _head_path(network)
    missing = [k for k in own if k not in usable and k not in (f"{head}.weight", f"{head}.bias")]
    if missing:
        raise ConfigError(f"weights do not fit {name}", expected=f"a {name} state dict",
                          got=f"{len(missing)} of {len(own)} tensors missing or mis-shaped (e.g. {missing[0]})",
                          hint="pass the weights of the same architecture as model=")
    network.load_state_dict(usable, strict=False)


def _head_path(network: nn.Module) -> str:
    last = None
    for path, module in network.named_modules():
        if isinstance(module, nn.Linear):
            last = path
    if last is None:
        raise ConfigError("this model has no linear classification head", expected="a model ending in nn.Linear",
                          got=type(network).__name__, hint="choose resnet18, efficientnet_b0 or densenet121")
    return last


def _strip_head(network: nn.Module, name: str) -> int:
    path = _head_path(network)
    parent = network.get_submodule(path.rsplit(".", 1)[0]) if "." in path else network
    attribute = path.rsplit(".", 1)[-1]
    features = getattr(parent, attribute).in_features
    setattr(parent, attribute, nn.Identity())
    return features
