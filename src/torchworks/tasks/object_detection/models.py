"""The detectors by name: the compact one that trains from scratch on a CPU, and torchvision's.

Every detector here is an ``nn.Module`` whose forward takes images ``[B, 3, S, S]`` (RGB in [0, 1],
letterboxed) and returns a dict of tensors, so the engine can export, run and compare it like any
model. What the dict holds differs (raw per-level maps for the compact model, padded detections for
torchvision's); :mod:`~torchworks.tasks.object_detection.decoding` turns either into boxes.
:func:`training_losses` gives the loss dict of one training batch for either kind.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from torchworks.errors import ConfigError, did_you_mean

COMPACT = "compact"
# the compact detector's size and losses (see compact.py) for new runs; a bundle records the options it was
# trained with (its state's ``architecture``), so changing these never breaks a bundle
COMPACT_OPTIONS: dict[str, Any] = {
    "width": 16, "fpn": 64, "depths": [1, 2, 3, 2], "head_depth": 2, "center_radius": 1.5,
    "scale_ranges": [[0.0, 64.0], [64.0, 128.0], [128.0, 1e8]], "cls_loss": "quality_focal", "quality": "iou",
    "box_weight": 2.0, "focal_alpha": 0.25, "focal_gamma": 2.0, "prior": 0.01, "lean_head": True, "out_kernel": 1}
# what bundles made before the options were recorded were trained with
FIRST_COMPACT_OPTIONS: dict[str, Any] = {
    "width": 16, "fpn": 64, "depths": [1, 2, 3, 2], "head_depth": 2, "center_radius": 1.5,
    "scale_ranges": [[0.0, 64.0], [64.0, 128.0], [128.0, 1e8]], "cls_loss": "quality_focal", "quality": "iou",
    "box_weight": 2.0, "focal_alpha": 0.25, "focal_gamma": 2.0, "prior": 0.01}
TORCHVISION_MODELS = ("fasterrcnn_mobilenet_v3_large_320_fpn", "fasterrcnn_mobilenet_v3_large_fpn",
                      "fasterrcnn_resnet50_fpn_v2", "retinanet_resnet50_fpn_v2", "fcos_resnet50_fpn",
                      "ssdlite320_mobilenet_v3_large")
MODELS = (COMPACT, *TORCHVISION_MODELS)


def check_model(name: str, pretrained: bool, weights_file: str | None) -> None:
    """Raise ConfigError now for an unknown model, or weights that are not on this machine."""
    if name not in MODELS:
        raise ConfigError(f"unknown detector '{name}'", expected="one of " + ", ".join(MODELS), got=name,
                          hint=did_you_mean(name, MODELS))
    if name == COMPACT:
        if pretrained or weights_file:
            raise ConfigError("the compact detector has no pretrained weights", expected="pretrained=false, or a "
                              "torchvision detector", got=f"model={name} " + ("pretrained=true" if pretrained
                                                                            else f"weights={weights_file}"),
                              hint="drop pretrained=/weights=, or use model=fasterrcnn_mobilenet_v3_large_fpn "
                              "pretrained=true")
        return
    from torchworks.tasks.object_detection.torchvision_detectors import check_torchvision_model

    check_torchvision_model(name, pretrained, weights_file)


def architecture_of(name: str) -> dict[str, Any]:
    """The constructor options a new run of ``name`` trains with, recorded in its bundle."""
    return dict(COMPACT_OPTIONS) if name == COMPACT else {}


def recorded_architecture(state: dict[str, Any]) -> dict[str, Any]:
    """The options a bundle's detector was trained with (the first compact design for bundles that
    predate the record)."""
    if "architecture" in state and state["architecture"] is not None:
        return dict(state["architecture"])
    return dict(FIRST_COMPACT_OPTIONS) if state["model"] == COMPACT else {}


def build_detector(name: str, num_classes: int, image_size: int, *, pretrained: bool = False,
                   weights_file: str | None = None, architecture: dict[str, Any] | None = None) -> nn.Module:
    """The detector ``name`` for ``num_classes`` classes, built with ``architecture`` (constructor options;
    default: :func:`architecture_of` the name); with ``pretrained``/``weights_file`` (torchvision detectors
    only) everything but the class head starts from those weights."""
    options = architecture_of(name) if architecture is None else architecture
    if name == COMPACT:
        from torchworks.tasks.object_detection.compact import CompactDetector

        return CompactDetector(num_classes, **options)
    from torchworks.tasks.object_detection.torchvision_detectors import TorchvisionDetector, pretrained_detector_state

    initial = pretrained_detector_state(name, weights_file) if (pretrained or weights_file) else None
    return TorchvisionDetector(name, num_classes, image_size, initial)


def training_losses(model: nn.Module, images: torch.Tensor, targets: list[dict[str, torch.Tensor]]
                    ) -> dict[str, torch.Tensor]:
    """The losses of one training batch, the total under ``loss`` (boxes in input pixels, labels 0..C-1)."""
    if hasattr(model, "losses"):
        return model.losses(images, targets)
    return model.loss(model(images), targets)


def evaluation_losses(model: nn.Module, images: torch.Tensor, outputs: dict[str, torch.Tensor],
                      targets: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor] | None:
    """The validation losses where a model gives them from its evaluation outputs (the compact one), else None."""
    if hasattr(model, "losses"):
        return None
    return model.loss(outputs, targets)


def decay_groups(model: nn.Module, lr: float, weight_decay: float) -> list[dict[str, Any]]:
    """Two optimiser groups at ``lr``: weights of convolutions and linear layers with ``weight_decay``, and
    biases and normalisation parameters (one-dimensional tensors, and the compact detector's per-level box
    scales) without, as detectors are usually trained."""
    decayed, plain = [], []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (decayed if parameter.dim() > 1 else plain).append(parameter)
    return [{"params": decayed, "lr": lr, "weight_decay": weight_decay},
            {"params": plain, "lr": lr, "weight_decay": 0.0}]
