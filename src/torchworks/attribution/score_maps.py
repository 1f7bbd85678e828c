"""Maps over an image of a score function ``score(images) -> [B]`` (a box's score, a class's logits over
its region): per-position Grad-CAM at a layer, and saliency. Shared by the tasks whose explanation is of
one part of their answer rather than of a whole-image class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from torchworks.attribution.layers import to_input_pixels
from torchworks.errors import ConfigError


def gradcam_map(score: Callable[[torch.Tensor], torch.Tensor], layer: nn.Module, name: str, image: torch.Tensor,
                hint: str) -> tuple[np.ndarray, dict[str, Any]]:
    """Grad-CAM with the gradients kept per position (the HiResCAM form) of ``score`` at ``layer`` (called
    ``name``) for ``image`` (``[1, C, H, W]``): the layer's activations times the score's gradients, summed
    over channels, negatives cut, as an ``H x W`` map. Grad-CAM's usual channel weights (gradients averaged
    over the whole map) would spread a small part's few local gradients over everything that shares its
    features, and the map would stop being about that part.

    Raises:
        ConfigError: The layer's output is not a ``batch x channels x height x width`` map (``hint`` says
            what to name instead).
    """
    from captum.attr import LayerGradientXActivation

    products = LayerGradientXActivation(score, layer).attribute(image)
    if not isinstance(products, torch.Tensor) or products.dim() != 4 or products.shape[0] != image.shape[0]:
        shape = list(products.shape) if isinstance(products, torch.Tensor) else type(products).__name__
        raise ConfigError(f"layer '{name}' gives no map of the image for Grad-CAM", expected="a layer whose output "
                          "is batch x channels x height x width", got=f"an output of shape {shape}", hint=hint)
    cam = products.sum(dim=1, keepdim=True).clamp_min(0)
    heat = to_input_pixels(cam, tuple(image.shape[-2:]))[0, 0].detach().clamp_min(0).cpu().numpy()
    return heat, {"layer": name, "layer_size": list(cam.shape[-2:]), "weights": "gradients per position (HiResCAM)"}


def saliency_map(score: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor
                 ) -> tuple[np.ndarray, dict[str, Any]]:
    """The largest absolute gradient of ``score`` over the channels of ``image`` (``[1, C, H, W]``)."""
    from captum.attr import Saliency

    gradients = Saliency(score).attribute(image.detach().clone().requires_grad_(), abs=True)
    return gradients[0].amax(dim=0).detach().cpu().numpy(), {"reduction": "largest absolute gradient over channels"}
