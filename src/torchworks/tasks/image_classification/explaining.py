"""Why an image got its class: Grad-CAM (default), saliency, integrated gradients or occlusion (Captum).

Each method yields one map over the model's input pixels (after resizing and cropping, as the model
saw the image): Grad-CAM and saliency say how strongly a region matters (no sign); integrated
gradients and occlusion also say in which direction (positive: towards the explained class). See
:mod:`torchworks.attribution.layers` for the feature map Grad-CAM reads.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from torchworks.attribution.explainer import Explainer, Explanation, Presentation, Row, Target, explain_rows
from torchworks.attribution.layers import find_module, last_feature_map
from torchworks.attribution.values import class_named, class_prediction, positive_int, rounded

SIGNED = {"integrated_gradients", "occlusion"}
DEFAULT_STEPS = 32


def explain_images(model: nn.Module, images: torch.Tensor, ids: list[Any], state: dict[str, Any], method: str,
                   target: str | None, options: dict[str, str]) -> list[Explanation]:
    """One explanation per image of the batch ``images`` (normalised, N x C x H x W)."""
    labels = state["labels"]

    def predict(model: nn.Module, row: Row) -> tuple[dict[str, Any], Target]:
        return class_prediction(model(row.inputs)[0].float().softmax(dim=0), labels)

    def present(row: Row, record: dict[str, Any], heat: np.ndarray, details: dict[str, Any]) -> Presentation:
        predicted, label, method = record["prediction"], record["target"], record["method"]
        title = f"{_short(row.identifier)}: predicted {predicted['label']}, explaining {label} ({method})"
        summary = f"predicted {predicted['label']} ({predicted['probability']:.3f}); {method} map for {label}"
        return Presentation({"shape": list(heat.shape), **details, "map": rounded(heat)},
                            {"overlay": _overlay(row.inputs[0], heat, state, title, method)}, summary=summary)

    explainer = Explainer(describe=lambda identifier: {"input": str(identifier)}, predict=predict,
                          resolve_target=lambda text: class_named(text, labels), attributors=_ATTRIBUTORS,
                          present=present)
    return explain_rows(explainer, model, images, ids, method, target, options)


def _gradcam(model: nn.Module, row: Row, target: Target, options: dict[str, str]):
    from captum.attr import LayerAttribution, LayerGradCam

    image, index = row.inputs, target.value
    if options.get("layer"):
        name, layer = options["layer"], find_module(model, options["layer"])
    else:
        name, layer = last_feature_map(model, image)
    cam = LayerGradCam(model, layer).attribute(image, target=index, relu_attributions=True)
    if cam.dim() != 4:
        from torchworks.errors import ConfigError

        raise ConfigError(f"layer '{name}' gives no spatial map for Grad-CAM", expected="a layer whose output is "
                          "batch x channels x height x width", got=f"an output of {cam.dim()} dimensions",
                          hint="name a convolutional layer with layer=, or leave layer out")
    upsampled = LayerAttribution.interpolate(cam, tuple(image.shape[-2:]), "bilinear")
    heat = upsampled[0, 0].detach().clamp_min(0).cpu().numpy()
    return heat, {"layer": name, "layer_size": list(cam.shape[-2:])}


def _saliency(model: nn.Module, row: Row, target: Target, options: dict[str, str]):
    from captum.attr import Saliency

    image, index = row.inputs, target.value
    gradients = Saliency(model).attribute(image.detach().clone().requires_grad_(), target=index, abs=True)
    return gradients[0].amax(dim=0).detach().cpu().numpy(), {"reduction": "largest absolute gradient over channels"}


def _integrated_gradients(model: nn.Module, row: Row, target: Target, options: dict[str, str]):
    from captum.attr import IntegratedGradients

    image, index = row.inputs, target.value
    steps = positive_int(options, "steps", DEFAULT_STEPS, largest=1000)
    attributions, delta = IntegratedGradients(model).attribute(
        image, baselines=torch.zeros_like(image), target=index, n_steps=steps, internal_batch_size=16,
        return_convergence_delta=True)
    return attributions[0].sum(dim=0).detach().cpu().numpy(), {
        "baseline": "the mean training image", "steps": steps, "convergence_delta": float(f"{float(delta[0]):.4g}")}


def _occlusion(model: nn.Module, row: Row, target: Target, options: dict[str, str]):
    from captum.attr import Occlusion

    image, index = row.inputs, target.value
    channels, height, width = image.shape[1:]
    window = positive_int(options, "window", max(2, min(height, width) // 8), largest=min(height, width))
    stride = max(1, window // 2)
    attributions = Occlusion(model).attribute(image, sliding_window_shapes=(channels, window, window),
                                              strides=(channels, stride, stride), baselines=0.0, target=index,
                                              perturbations_per_eval=16)
    return attributions[0].mean(dim=0).detach().cpu().numpy(), {
        "window": window, "stride": stride, "baseline": "the mean training image"}


_ATTRIBUTORS = {"gradcam": _gradcam, "saliency": _saliency, "integrated_gradients": _integrated_gradients,
                "occlusion": _occlusion}


def _overlay(image: torch.Tensor, heat: np.ndarray, state: dict[str, Any], title: str, method: str):
    from torchworks.attribution.figures import overlay_figure

    mean = torch.tensor(state["mean"], dtype=image.dtype, device=image.device)[:, None, None]
    std = torch.tensor(state["std"], dtype=image.dtype, device=image.device)[:, None, None]
    picture = (image.detach() * std + mean).clamp(0, 1).cpu().numpy()
    picture = picture[0] if picture.shape[0] == 1 else picture.transpose(1, 2, 0)
    return overlay_figure(picture, heat, title, signed=method in SIGNED)


def _short(identifier: Any) -> str:
    from pathlib import Path

    return Path(str(identifier)).name
