"""Why a detector found a box: Grad-CAM (default), saliency or integrated gradients of that box's score (Captum).

What is attributed, for each explained box, is its score as a function of the input pixels: the
model runs, its outputs are decoded with gradients on (down to a score of 0.001, so the function
stays continuous where the box weakens), and the function's value is the best score of a detection
of the box's class overlapping the box by IoU >= 0.5 (0 when there is none). Attributing the box's
own score, not a class score of the whole image, is what makes the map about *this* box.

Which boxes: by default each of the ``boxes=`` (3) best boxes over ``conf=`` (the run's prediction
threshold unless given); ``target=N`` the box with index ``N`` in the prediction's list (``0``: the
best); ``target=CLASS`` the best box of that class. An image without such a box gets a record
saying so instead of a map.

The map covers the whole stored image at the model's resolution (the letterbox's padding cut off:
``shape`` cells, the longer side ``image_size``; ``cell`` stored pixels per cell); the box is in
the stored image's pixels, as ``predict`` gives it. Grad-CAM (in its per-position form, see
:func:`_gradcam`) and saliency are unsigned; integrated
gradients (baseline: a plain grey picture, the padding's colour) are signed. ``inside_share`` is
the part of the map's total (absolute) weight inside the box.

Grad-CAM's layer: the compact detector's last backbone stage whose map every pyramid level still
reads (:data:`COMPACT_LAYER`), or for torchvision's detectors the last feature map of the backbone,
found by :func:`~torchworks.attribution.layers.last_feature_map`; ``layer=NAME`` picks another.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.ops import box_iou

from torchworks.attribution.explainer import Explainer, Explanation, Presentation, Row, Target, explain_rows
from torchworks.attribution.layers import find_module, last_feature_map
from torchworks.attribution.score_maps import gradcam_map, saliency_map
from torchworks.attribution.values import class_named, fraction, positive_int, rounded
from torchworks.errors import ConfigError
from torchworks.tasks.object_detection.decoding import decode
from torchworks.tasks.object_detection.models import COMPACT
from torchworks.tasks.object_detection.predicting import ImageItem, prediction_settings, wanted_classes
from torchworks.tasks.object_detection.transforms import PAD_FILL, in_image, letterbox_size

METHODS = ("gradcam", "saliency", "integrated_gradients")
OPTIONS = ("boxes", "conf", "layer", "steps")
SIGNED = {"integrated_gradients"}
DEFAULT_BOXES = 3
DEFAULT_STEPS = 32
MATCH_IOU = 0.5  # a detection of the explained box's class overlapping it this much counts as that box
SCORE_FLOOR = 0.001  # the score function decodes down to this score (0 below it)
# stride 16: the last stage (stride 32) is a 5 x 5 map at 160 px; the neck's levels are each read by
# one pyramid level only, so a box found at another level would get an empty map from them
COMPACT_LAYER = "stages.2"
# where a torchvision detector's backbone lies inside TorchvisionDetector (the first that exists)
BACKBONES = ("model.backbone.body", "model.backbone.features", "model.backbone")


def explain_detections(model: nn.Module, images: torch.Tensor, items: list[ImageItem], state: dict[str, Any],
                       method: str, target: str | None, options: dict[str, str]) -> list[Explanation]:
    """One explanation per explained box of each image of ``images`` (letterboxed, N x 3 x S x S), or
    one record saying why nothing was explained in an image."""
    labels = list(state["labels"])
    size = int(state["image_size"])
    settings = prediction_settings(state)
    conf = fraction(options, "conf", float(settings["conf"]))
    count = positive_int(options, "boxes", DEFAULT_BOXES, largest=100)
    classes = wanted_classes(settings["classes"], labels)

    def predict(model: nn.Module, row: Row) -> tuple[dict[str, Any], Target]:
        item = row.identifier
        (found,) = decode(model(row.inputs), (size, size), conf=conf, iou=settings["iou"],
                          max_det=settings["max_det"], classes=classes)
        found = in_image(found, (item.height, item.width), size)
        boxes = [{"xyxy": [round(float(v), 1) for v in box], "label": labels[int(label)], "score": round(float(score), 4)}
                 for box, label, score in zip(found["boxes"], found["labels"], found["scores"])]
        return {"count": len(boxes), "boxes": boxes}, Target(("top", count), f"the {count} best boxes")

    def expand(prediction: dict[str, Any], chosen: Target) -> list[Target]:
        return _chosen_boxes(prediction["boxes"], chosen, conf)

    def attribute(name: str):
        def run(model: nn.Module, row: Row, target: Target, options: dict[str, str]):
            item, box = row.identifier, target.value
            square = _to_square(box["xyxy"], item, size)
            score = box_score(model, square, labels.index(box["label"]), size, settings["iou"])
            heat, details = _ATTRIBUTORS[name](model, score, row.inputs, options, state)
            height, width = letterbox_size(item.height, item.width, size)
            return heat[:height, :width], {"box": box, "square": square, **details}
        return run

    explainer = Explainer(describe=_describe, predict=predict, resolve_target=lambda text: read_target(text, labels),
                          attributors={name: attribute(name) for name in METHODS}, present=_present, expand=expand)
    return explain_rows(explainer, model, images, items, method, target, options)


def read_target(text: str, labels: list[str]) -> Target:
    """``target=``: a whole number is an index in the prediction's box list (``0``: the best box),
    anything else a class name (the best box of that class).

    Raises:
        ConfigError: A negative index, or a name that is not one of the model's classes.
    """
    text = text.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        index = int(text)
        if index < 0:
            raise ConfigError(f"invalid target box index {index}", expected="0 or more (0: the best box)",
                              got=text, hint="target=0 explains the best box, target=1 the next")
        return Target(("index", index), f"box {index}")
    try:
        chosen = class_named(text, labels)
    except ConfigError as error:
        raise ConfigError(error.what, expected=error.expected + ", or a box index (target=0: the best box)",
                          got=error.got, hint=error.hint) from None
    return Target(("class", chosen.value), chosen.name)


def _chosen_boxes(boxes: list[dict[str, Any]], chosen: Target, conf: float) -> list[Target]:
    """The boxes ``chosen`` stands for among an image's ``boxes`` (best first), or one target
    without a value that says why there is none."""
    kind, value = chosen.value
    if not boxes:
        return [Target(None, f"no box scores over conf={conf:g}; nothing to explain (a lower conf= shows weaker "
                             "boxes)")]
    if kind == "top":
        picked = list(range(min(value, len(boxes))))
    elif kind == "index":
        if value >= len(boxes):
            return [Target(None, f"no box {value}: the image has {len(boxes)} box{'es' if len(boxes) > 1 else ''} "
                                 f"over conf={conf:g} (0 to {len(boxes) - 1})")]
        picked = [value]
    else:
        picked = [index for index, box in enumerate(boxes) if box["label"] == chosen.name][:1]
        if not picked:
            return [Target(None, f"no {chosen.name} box scores over conf={conf:g} in this image")]
    return [Target({"index": index, **boxes[index]}, f"box {index}: {boxes[index]['label']} "
                                                     f"{boxes[index]['score']:.2f}") for index in picked]


def box_score(model: nn.Module, box: torch.Tensor, label: int, image_size: int, iou: float
              ) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function of letterboxed images ``[B, 3, S, S]`` giving, per image, the score of the detection
    that is ``box`` (xyxy on the letterboxed square): the best score of a detection of class ``label``
    overlapping it by IoU >= :data:`MATCH_IOU`, or 0 (still part of the graph) when there is none."""

    def score(images: torch.Tensor) -> torch.Tensor:
        found = decode(model(images), (image_size, image_size), conf=SCORE_FLOOR, iou=iou, max_det=1000,
                       classes={label})
        values = []
        for detections in found:
            overlaps = box_iou(detections["boxes"].detach().float(), box[None].to(images.device)).flatten()
            matched = detections["scores"][overlaps >= MATCH_IOU]
            values.append(matched.max() if matched.numel() else detections["scores"].sum() * 0.0)
        return torch.stack(values)

    return score


def _gradcam(model: nn.Module, score, image: torch.Tensor, options: dict[str, str], state: dict[str, Any]):
    name, layer = gradcam_layer(model, image, options.get("layer"), state)
    return gradcam_map(score, layer, name, image, hint="name a backbone layer with layer=, or leave layer out")


def gradcam_layer(model: nn.Module, image: torch.Tensor, name: str | None, state: dict[str, Any]
                  ) -> tuple[str, nn.Module]:
    """The layer Grad-CAM reads: ``name``, else :data:`COMPACT_LAYER` for the compact detector,
    else the last feature map of a torchvision detector's backbone."""
    if name:
        return name, find_module(model, name)
    if state.get("model") == COMPACT:
        return COMPACT_LAYER, find_module(model, COMPACT_LAYER)
    modules = dict(model.named_modules())
    within = next((candidate for candidate in BACKBONES if candidate in modules), "")
    return last_feature_map(model, image, within=within)


def _saliency(model: nn.Module, score, image: torch.Tensor, options: dict[str, str], state: dict[str, Any]):
    return saliency_map(score, image)


def _integrated_gradients(model: nn.Module, score, image: torch.Tensor, options: dict[str, str],
                          state: dict[str, Any]):
    from captum.attr import IntegratedGradients

    steps = positive_int(options, "steps", DEFAULT_STEPS, largest=1000)
    attributions, delta = IntegratedGradients(score).attribute(
        image, baselines=torch.full_like(image, PAD_FILL / 255), n_steps=steps, internal_batch_size=8,
        return_convergence_delta=True)
    return attributions[0].sum(dim=0).detach().cpu().numpy(), {
        "baseline": "a plain grey image", "steps": steps, "convergence_delta": float(f"{float(delta[0]):.4g}")}


_ATTRIBUTORS = {"gradcam": _gradcam, "saliency": _saliency, "integrated_gradients": _integrated_gradients}


def _describe(item: ImageItem) -> dict[str, Any]:
    return {"input": item.name, "width": item.width, "height": item.height}


def _to_square(xyxy: list[float], item: ImageItem, image_size: int) -> torch.Tensor:
    """A box in the stored image's pixels on the letterboxed square (the inverse of ``to_original``)."""
    height, width = letterbox_size(item.height, item.width, image_size)
    factors = torch.tensor([width / item.width, height / item.height] * 2)
    return torch.tensor(xyxy, dtype=torch.float32) * factors


def _present(row: Row, record: dict[str, Any], heat: np.ndarray | None, details: dict[str, Any]) -> Presentation:
    item, name = row.identifier, Path(str(row.identifier.name)).name
    if heat is None:
        return Presentation(None, summary=f"{name}: {record['target']}")
    box, square = details.pop("box"), details.pop("square")
    heat = np.where(np.isfinite(heat), heat, 0.0)
    rows, columns = heat.shape
    inside = np.zeros_like(heat, dtype=bool)
    left, top, right, bottom = (float(v) for v in square)
    ys, xs = np.arange(rows) + 0.5, np.arange(columns) + 0.5  # cell centres
    inside[(ys >= top) & (ys <= bottom), :] = True
    inside[:, ~((xs >= left) & (xs <= right))] = False
    weight = np.abs(heat)
    share = float(weight[inside].sum() / weight.sum()) if weight.sum() > 0 else 0.0
    method = record["method"]
    attributions = {"box": box, "shape": [rows, columns],
                    "cell": [round(item.width / columns, 4), round(item.height / rows, 4)], **details,
                    "inside_share": round(share, 4), "box_area_share": round(float(inside.mean()), 4),
                    "map": rounded(heat)}
    caption = f"{box['index']}: {box['label']} {box['score']:.2f}"
    title = f"{name}: box {caption} ({method})"
    picture = row.inputs[0, :, :rows, :columns].detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    from torchworks.attribution.figures import overlay_figure

    figure = overlay_figure(picture, heat, title, signed=method in SIGNED, extent=(item.width, item.height),
                            boxes=[(box["xyxy"], caption)])
    summary = (f"{name}: box {box['index']} {box['label']} {box['score']:.3f} at {box['xyxy']}; "
               f"{share:.0%} of the {method} map inside the box ({inside.mean():.0%} of the image)")
    return Presentation(attributions, {"overlay": figure}, summary=summary)
