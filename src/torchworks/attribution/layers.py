"""Finding the layer an attribution method reads: by name, or the last spatial feature map.

Grad-CAM weighs a convolutional feature map by its gradients, so the map must still say *where*:
a 1 x 1 map after global pooling cannot. :func:`last_feature_map` therefore takes the output of the
last module, in the order modules finish during a forward pass, that returns a batch x channels x
height x width map with more than one position and runs once (a module called twice, such as a
ResNet block's shared ReLU, has no single output to read). That module is the last convolution, or
the normalisation, activation or block that closes it: for ``smallcnn`` the activation after its
last convolution, at a quarter of the input's side (8 x 8 for 32 x 32 digits: one cell per pixel
of the original 8 x 8 digit); for a torchvision ResNet its ``layer4``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from torchworks.errors import ConfigError, did_you_mean


def find_module(model: nn.Module, name: str) -> nn.Module:
    """The sub-module called ``name`` (``backbone.12``), as in ``model.named_modules()``.

    Raises:
        ConfigError: No such module (with the closest names as a hint).
    """
    modules = dict(model.named_modules())
    modules.pop("", None)
    if name not in modules:
        raise ConfigError(f"the model has no layer '{name}'", expected="a module name of this model",
                          got=name, hint=did_you_mean(name, modules))
    return modules[name]


def last_feature_map(model: nn.Module, inputs: Any, within: str = "") -> tuple[str, nn.Module]:
    """The name and module of the model's last spatial feature map (see the module docstring).

    Args:
        within: Look only inside the sub-module of that name (a detector's ``backbone``, whose maps
            still cover the whole image, rather than its heads, which run per region or per level).

    Raises:
        ConfigError: The model has no 2-D convolution, or none whose output keeps more than one position.
    """
    searched = find_module(model, within) if within else model
    if not any(isinstance(module, nn.Conv2d) for module in searched.modules()):
        raise ConfigError("this model has no convolutional layer for Grad-CAM", expected="a model with nn.Conv2d "
                          "layers", got=type(model).__name__, hint="use method=saliency, integrated_gradients "
                          "or occlusion, which work with any model")
    finished = _finishing_order(model, inputs)
    if within:
        finished = [entry for entry in finished if entry[0].startswith(within + ".")]
    calls: dict[str, int] = {}
    for name, _, _ in finished:
        calls[name] = calls.get(name, 0) + 1
    last_conv = max((i for i, (_, module, shape) in enumerate(finished)
                     if isinstance(module, nn.Conv2d) and _spatial(shape)), default=None)
    if last_conv is None:
        raise ConfigError("no convolutional layer of this model keeps more than one position",
                          expected="a feature map larger than 1 x 1", got="1 x 1 maps only",
                          hint="use a larger image_size, or method=saliency")
    chosen = [(name, module) for name, module, shape in finished[last_conv:]
              if calls[name] == 1 and _spatial(shape) and name]
    if not chosen:
        raise ConfigError("no single feature map to read after the last convolution", expected="a module that "
                          "runs once and returns a spatial map", got="modules that run several times",
                          hint="name one with layer=NAME (a module of the model)")
    return chosen[-1]


def _finishing_order(model: nn.Module, inputs: Any) -> list[tuple[str, nn.Module, tuple[int, ...] | None]]:
    """``(name, module, output shape)`` for every module call of one forward pass, in finishing order."""
    finished: list[tuple[str, nn.Module, tuple[int, ...] | None]] = []
    handles = []

    def record(name: str):
        def hook(module: nn.Module, _args: Any, output: Any) -> None:
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else None
            finished.append((name, module, shape))
        return hook

    try:
        for name, module in model.named_modules():
            handles.append(module.register_forward_hook(record(name)))
        with torch.no_grad():
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return finished


def _spatial(shape: tuple[int, ...] | None) -> bool:
    return shape is not None and len(shape) == 4 and shape[2] * shape[3] > 1


def to_input_pixels(cam: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A layer's map ``[B, 1, h, w]`` stretched over the input's ``size`` (height, width) pixels.

    A convolutional map of stride ``s`` covers ``h * s`` input rows from the top (``ceil(H / s)``
    cells, or a model that pads its input to a multiple of ``s``), so the map is upsampled by the
    stride (the power of two nearest ``H / h``) and the rows and columns past the input cut off.
    Plain interpolation to ``size`` would shift it by up to a cell when ``H`` is not a multiple.
    """
    import math

    import torch.nn.functional as F

    height, width = size
    stride = 2 ** max(0, round(math.log2(max(height / cam.shape[-2], width / cam.shape[-1]))))
    upsampled = F.interpolate(cam, size=(cam.shape[-2] * stride, cam.shape[-1] * stride), mode="bilinear",
                              align_corners=False)
    if upsampled.shape[-2] < height or upsampled.shape[-1] < width:  # not a strided map: fit it instead
        return F.interpolate(cam, size=size, mode="bilinear", align_corners=False)
    return upsampled[..., :height, :width]
