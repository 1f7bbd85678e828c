"""Why pixels got their class: Grad-CAM per class (default), saliency or integrated gradients (Captum).

What is attributed, for a class ``c`` of an image, is the class's logits summed over its predicted
region: the pixels whose argmax is ``c`` in the model's own prediction for the image (the Seg-Grad-CAM
score of Vinogradova et al. 2020). The region is computed once and held fixed (no gradient flows
through the choice of pixels), so the map answers "what made the model call *these* pixels ``c``",
not "what would make more pixels ``c``".

Which classes: by default each class present in the prediction except class 0, the background, one
explanation each; an image predicted as background alone gets the background explained (that is the
model's whole answer there, and the map shows what it looked at to find nothing else). ``target=NAME``
explains that class; a class with no pixel predicted in an image gets a record saying so instead of a
map (there is no region to sum its logits over).

Grad-CAM reads, in its per-position form (see :func:`_gradcam`), for the U-Net the first decoder merge
``merge.{depth-1}``: it has already seen the bottleneck's context (the whole receptive field), joined
with the encoder's skip features at twice the bottleneck's resolution (stride
``input_stride * 2 ** (depth - 1)``: 8 pixels at the default depth 4). The bottleneck ``down.{depth}`` alone is twice as coarse (a 96-pixel
scan is 6 x 6 cells at depth 4), too coarse for small lesions; the last merge ``merge.0`` feeds the
1 x 1 head directly, so its map would be the class's own logits inside the region and nothing outside
it, a restatement of the prediction rather than an explanation of it. For torchvision's models the last
feature map of the backbone (``model.backbone``, found by
:func:`~torchworks.attribution.layers.last_feature_map`). ``layer=NAME`` picks another. A map can be
empty (all zeros): nothing at that layer speaks *for* the class in its region (a model that has barely
learned the class, whose logits there are negative and win only by being less so than the others'); the
summary says so.

Maps cover the image at its stored size (the batch's bottom and right padding cut off); a volume is
explained slice by slice, each record naming its ``slice``. Grad-CAM and
saliency are unsigned; integrated gradients (baseline: a black image, the padding's value; ``steps=``
32) are signed. ``inside_share`` is the part of the map's total (absolute) weight inside the predicted
region, to compare with ``region_share``, the part of the image the region covers. The record's
``map`` is averaged down to at most :data:`MAP_SIDE` cells on the longer side (``cell``: image
pixels per cell, x then y); the figure shows the full map with the region's outline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from torchworks.attribution.explainer import Explainer, Explanation, Presentation, Row, Target, explain_rows
from torchworks.attribution.layers import find_module, last_feature_map
from torchworks.attribution.score_maps import gradcam_map, saliency_map
from torchworks.attribution.values import class_named, positive_int, rounded
from torchworks.tasks.segmentation.models import UNET
from torchworks.tasks.segmentation.predicting import PictureItem

METHODS = ("gradcam", "saliency", "integrated_gradients")
OPTIONS = ("layer", "steps")
SIGNED = {"integrated_gradients"}
DEFAULT_STEPS = 32
BACKGROUND = 0  # the class index the default target passes over (the task's convention: class 0 is background)
MAP_SIDE = 64  # the record's map has at most this many cells on its longer side, so the JSON stays small
TORCHVISION_BACKBONE = "model.backbone"  # where TorchvisionSegmenter keeps its backbone
EACH_PREDICTED = "each predicted class"  # the default target's value (and name)


def explain_segments(model: nn.Module, images: Any, items: list[PictureItem], state: dict[str, Any], method: str,
                     target: str | None, options: dict[str, str]) -> list[Explanation]:
    """One explanation per explained class of each image of ``images`` (float ``[B, 3, H, W]`` in [0, 1],
    padded at the bottom and right), or one record per image saying why a class could not be explained.
    ``items`` are the images' :class:`PictureItem` (or volume slices: anything with ``name``, ``height``,
    ``width``; a slice also has its ``index``).

    Raises:
        ConfigError: ``target`` is not one of the model's classes, or a bad ``layer=`` or ``steps=``.
    """
    labels = [str(label) for label in state["labels"]]

    def predict(model: nn.Module, row: Row) -> tuple[dict[str, Any], Target]:
        classes = predicted_classes(model, own_pixels(row, model))
        counts = torch.bincount(classes.flatten(), minlength=len(labels)).tolist()
        present = {labels[c]: int(counts[c]) for c in range(len(labels)) if counts[c]}
        return {"classes": present}, Target(EACH_PREDICTED, EACH_PREDICTED)

    def expand(prediction: dict[str, Any], chosen: Target) -> list[Target]:
        return explained_classes(prediction["classes"], chosen, labels)

    def attribute(name: str):
        def run(model: nn.Module, row: Row, target: Target, options: dict[str, str]):
            image = own_pixels(row, model)
            region = predicted_classes(model, image) == target.value
            heat, details = _ATTRIBUTORS[name](model, region_score(model, region, target.value), image, options,
                                               state)
            picture = image[0].detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
            return heat, {"region": region.cpu().numpy(), "picture": picture, **details}
        return run

    explainer = Explainer(describe=_describe, predict=predict, resolve_target=lambda text: class_named(text, labels),
                          attributors={name: attribute(name) for name in METHODS}, present=_present, expand=expand)
    return explain_rows(explainer, model, images, items, method, target, options)


def explained_classes(present: dict[str, int], chosen: Target, labels: list[str]) -> list[Target]:
    """The classes ``chosen`` stands for in an image whose prediction has ``present`` pixels per class:
    by default every class but the background (the background when it is all there is); a named class
    when it has pixels, else one target without a value that says there is none."""
    if chosen.value == EACH_PREDICTED:
        names = [name for name in present if name != labels[BACKGROUND]] or list(present)
        return [Target(labels.index(name), name) for name in names]
    if chosen.name not in present:
        found = ", ".join(f"{name} ({pixels} px)" for name, pixels in present.items())
        return [Target(None, f"no pixel predicted as {chosen.name}; nothing to explain (predicted: {found})")]
    return [chosen]


def own_pixels(row: Row, model: nn.Module) -> torch.Tensor:
    """A row's image ``[1, 3, h, w]`` at its stored size (the batch's padding cut off), on the model's device.
    Pictures kept whole for a sliding window (``tile=``: uint8 ``pixels`` ``[3, H, W]``) are made floats."""
    inputs, item = row.inputs, row.identifier
    if not isinstance(inputs, torch.Tensor):
        from torchworks.attribution.gradients import model_device

        inputs = inputs[0].pixels[None].to(model_device(model)).float() / 255.0
    return inputs[..., :item.height, :item.width]


def predicted_classes(model: nn.Module, image: torch.Tensor) -> torch.Tensor:
    """The class of every pixel of ``image`` (``[1, 3, h, w]``) as the model predicts it: ``[h, w]`` indices."""
    with torch.no_grad():
        return model(image)[0].argmax(dim=0)


def region_score(model: nn.Module, region: torch.Tensor, label: int):
    """A function of images ``[B, 3, h, w]`` giving, per image, the logits of class ``label`` summed over
    ``region`` (``[h, w]`` booleans, held fixed: the pixels predicted as ``label``)."""
    weights = region.detach().to(torch.float32)

    def score(images: torch.Tensor) -> torch.Tensor:
        return (model(images)[:, label] * weights.to(images.device)).sum(dim=(1, 2))

    return score


def _gradcam(model: nn.Module, score, image: torch.Tensor, options: dict[str, str], state: dict[str, Any]):
    name, layer = gradcam_layer(model, image, options.get("layer"), state)
    return gradcam_map(score, layer, name, image, hint="name an encoder or decoder layer with layer=, or leave layer out")


def gradcam_layer(model: nn.Module, image: torch.Tensor, name: str | None, state: dict[str, Any]
                  ) -> tuple[str, nn.Module]:
    """The layer Grad-CAM reads: ``name``, else the U-Net's first decoder merge (see the module docstring),
    else the last feature map of a torchvision model's backbone."""
    if name:
        return name, find_module(model, name)
    if state.get("model") == UNET:
        chosen = unet_layer(int(state["architecture"].get("depth", 4)))
        return chosen, find_module(model, chosen)
    modules = dict(model.named_modules())
    return last_feature_map(model, image, within=TORCHVISION_BACKBONE if TORCHVISION_BACKBONE in modules else "")


def unet_layer(depth: int) -> str:
    """The U-Net module Grad-CAM reads by default: the first decoder merge, ``merge.{depth-1}``."""
    return f"merge.{depth - 1}"


def _saliency(model: nn.Module, score, image: torch.Tensor, options: dict[str, str], state: dict[str, Any]):
    return saliency_map(score, image)


def _integrated_gradients(model: nn.Module, score, image: torch.Tensor, options: dict[str, str],
                          state: dict[str, Any]):
    from captum.attr import IntegratedGradients

    steps = positive_int(options, "steps", DEFAULT_STEPS, largest=1000)
    attributions, delta = IntegratedGradients(score).attribute(
        image, baselines=torch.zeros_like(image), n_steps=steps, internal_batch_size=8,
        return_convergence_delta=True)
    return attributions[0].sum(dim=0).detach().cpu().numpy(), {
        "baseline": "a black image", "steps": steps, "convergence_delta": float(f"{float(delta[0]):.4g}")}


_ATTRIBUTORS = {"gradcam": _gradcam, "saliency": _saliency, "integrated_gradients": _integrated_gradients}


def _describe(item: PictureItem) -> dict[str, Any]:
    """The record's facts about the input: its name and size, and a volume slice's index (``slice``)."""
    where = {} if getattr(item, "index", None) is None else {"slice": item.index}
    return {"input": item.name, **where, "width": item.width, "height": item.height}


def _short_name(item: PictureItem) -> str:
    """The input's file name (and slice) for titles and summaries."""
    index = getattr(item, "index", None)
    return Path(str(item.name)).name + ("" if index is None else f" slice {index}")


def averaged_map(heat: np.ndarray, side: int = MAP_SIDE) -> np.ndarray:
    """``heat`` averaged over cells so that its longer side has at most ``side`` cells (as it is when it
    is that small already); each cell the mean of the pixels it covers."""
    rows, columns = heat.shape
    scale = side / max(rows, columns)
    if scale >= 1:
        return heat
    shape = (max(1, round(rows * scale)), max(1, round(columns * scale)))
    return F.adaptive_avg_pool2d(torch.from_numpy(np.ascontiguousarray(heat, dtype=np.float32))[None], shape)[0].numpy()


def _present(row: Row, record: dict[str, Any], heat: np.ndarray | None, details: dict[str, Any]) -> Presentation:
    """The record's attributions (the map averaged down), the overlay with the region's outline, one line."""
    item, name = row.identifier, _short_name(row.identifier)
    if heat is None:
        return Presentation(None, summary=f"{name}: {record['target']}")
    region, picture = details.pop("region"), details.pop("picture")
    heat = np.where(np.isfinite(heat), heat, 0.0)
    weight = np.abs(heat)
    total = float(weight.sum())
    inside = float(weight[region].sum()) / total if total > 0 else None  # None: an empty map
    area = float(region.mean())
    small = averaged_map(heat)
    rows, columns = small.shape
    label, method = record["target"], record["method"]
    attributions = {"class": label, "region_pixels": int(region.sum()), "region_share": round(area, 4),
                    "inside_share": round(inside or 0.0, 4), "shape": [rows, columns],
                    "cell": [round(item.width / columns, 4), round(item.height / rows, 4)], **details,
                    "map": rounded(small)}
    figure = _overlay(picture, heat, region, f"{name}: {label} ({method})", method in SIGNED)
    summary = _summary(name, record, details.get("layer"), inside, area)
    return Presentation(attributions, {"overlay": figure}, summary=summary)


def _summary(name: str, record: dict[str, Any], layer: str | None, inside: float | None, area: float) -> str:
    """One line: what was predicted, and how much of the map lies in the explained class's region (or
    that the map is empty, ``inside`` None)."""
    predicted = ", ".join(f"{label} {pixels} px" for label, pixels in record["prediction"]["classes"].items())
    label, method = record["target"], record["method"]
    if inside is None:
        where = f" at {layer}" if layer else ""
        return (f"{name}: predicted {predicted}; the {method} map for {label} is empty: nothing{where} speaks for "
                f"{label} in its region")
    return (f"{name}: predicted {predicted}; {inside:.0%} of the {method} map for {label} inside its region "
            f"({area:.0%} of the image)")


def _overlay(picture: np.ndarray, heat: np.ndarray, region: np.ndarray, title: str, signed: bool):
    """The image (``h x w x 3`` in [0, 1]) beside the heat map over it
    (:func:`~torchworks.attribution.figures.overlay_figure`), the predicted region outlined on both panels,
    white over black to be seen on any colour."""
    from torchworks.attribution.figures import overlay_figure

    figure = overlay_figure(picture, heat, title, signed=signed)
    if region.any() and not region.all():  # a region that is the whole image has no outline
        rows, columns = region.shape
        for ax in figure.axes[:2]:
            for colour, width in (("black", 2.4), ("white", 1.0)):
                ax.contour(np.arange(columns), np.arange(rows), region.astype(np.float32), levels=[0.5],
                           colors=colour, linewidths=width)
    return figure
