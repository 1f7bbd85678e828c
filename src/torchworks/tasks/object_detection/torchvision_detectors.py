"""torchvision detectors by name, with a new head for the user's classes, behind one interface.

:class:`TorchvisionDetector` wraps ``torchvision.models.detection.<name>`` so that, seen from outside,
every model takes ``[B, 3, S, S]`` RGB floats in ``[0, 1]`` and speaks labels ``0..C-1``:

* ``forward`` (eval mode) returns the detections padded to :data:`MAX_DETECTIONS` per image:
  ``boxes`` ``[B, 100, 4]`` xyxy in input pixels, ``scores`` ``[B, 100]`` in descending order with
  0 for padding, ``labels`` ``[B, 100]`` int64 (0 for padding). Fixed shapes keep exports simple.
* ``losses`` returns torchvision's training losses and their sum under ``"loss"``.

Faster R-CNN and SSDlite reserve class 0 for the background, RetinaNet and FCOS do not; the wrapper
shifts labels on the way in and out, so nothing outside it knows. Each model's own transform
normalises the images and works at ``image_size`` (``min_size = max_size = S`` for R-CNN, RetinaNet
and FCOS; SSDlite's fixed size becomes ``S x S`` too: its default boxes are relative to the image,
so it runs at any size, and at 320 px it is exactly torchvision's model). The score threshold is
0.001 and 100 detections are kept per image, as COCO mAP needs; NMS IoU and the other settings are
torchvision's.

Weights: with no ``initial_state`` every layer starts random (``weights_backbone=None`` too, so
nothing is ever downloaded) and torchvision's from-scratch defaults apply (BatchNorm everywhere,
every backbone layer trainable). With an ``initial_state`` (COCO weights from the local torch hub
cache or a ``weights=`` file, see :func:`pretrained_detector_state`) the model is set up as
torchvision sets up its COCO models for fine-tuning (FrozenBatchNorm2d in the backbones where
torchvision uses it, the first backbone stages frozen: 3 trainable), every tensor is loaded except
the class-specific head layers, which start fresh for the user's classes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import Tensor, nn

from torchworks.errors import ConfigError, did_you_mean
from torchworks.weights import (
    cached_torchvision_weights,
    read_weights_file,
    without_prefix,
)

TORCHVISION_MODELS = (
    "fasterrcnn_mobilenet_v3_large_320_fpn",
    "fasterrcnn_mobilenet_v3_large_fpn",
    "fasterrcnn_resnet50_fpn_v2",
    "retinanet_resnet50_fpn_v2",
    "fcos_resnet50_fpn",
    "ssdlite320_mobilenet_v3_large",
)
#: Detections per image, kept by the model and padded to in :meth:`TorchvisionDetector.forward`.
MAX_DETECTIONS = 100
#: Low enough for COCO mAP to see the whole precision-recall curve; callers filter with ``conf=``.
SCORE_THRESHOLD = 0.001
#: Backbone stages left trainable when starting from pretrained weights (torchvision's default).
PRETRAINED_TRAINABLE_STAGES = 3

#: Models whose class 0 is the background: user label ``k`` is torchvision label ``k + 1``.
_BACKGROUND_CLASS = frozenset({
    "fasterrcnn_mobilenet_v3_large_320_fpn", "fasterrcnn_mobilenet_v3_large_fpn", "fasterrcnn_resnet50_fpn_v2",
    "ssdlite320_mobilenet_v3_large",
})
#: The class-specific layers (their shapes depend on the number of classes), as state-dict key patterns.
_HEAD_KEYS = {
    "fasterrcnn_mobilenet_v3_large_320_fpn": r"roi_heads\.box_predictor\.(cls_score|bbox_pred)\.",
    "fasterrcnn_mobilenet_v3_large_fpn": r"roi_heads\.box_predictor\.(cls_score|bbox_pred)\.",
    "fasterrcnn_resnet50_fpn_v2": r"roi_heads\.box_predictor\.(cls_score|bbox_pred)\.",
    "retinanet_resnet50_fpn_v2": r"head\.classification_head\.cls_logits\.",
    "fcos_resnet50_fpn": r"head\.classification_head\.cls_logits\.",
    # SSDlite's per-level prediction block is a depthwise 3x3 (class-agnostic, kept) then a 1x1 conv.
    "ssdlite320_mobilenet_v3_large": r"head\.classification_head\.module_list\.\d+\.1\.",
}
#: How torchvision prepares each backbone for fine-tuning from its COCO weights: the kind of backbone
#: (which decides what a "stage" is) and whether its BatchNorm layers become FrozenBatchNorm2d.
_FINE_TUNING = {
    "fasterrcnn_mobilenet_v3_large_320_fpn": ("mobilenet", True),
    "fasterrcnn_mobilenet_v3_large_fpn": ("mobilenet", True),
    "fasterrcnn_resnet50_fpn_v2": ("resnet", False),
    "retinanet_resnet50_fpn_v2": ("resnet", False),
    "fcos_resnet50_fpn": ("resnet", True),
    "ssdlite320_mobilenet_v3_large": (None, False),  # all six stages trainable, BatchNorm kept
}
_NOT_REQUIRED = re.compile(r"(^|\.)num_batches_tracked$")


class TorchvisionDetector(nn.Module):
    """torchvision detector ``name`` for ``num_classes`` classes at ``image_size`` pixels.

    Args:
        name: One of :data:`TORCHVISION_MODELS`.
        num_classes: The user's classes; labels are ``0..num_classes-1`` in and out.
        image_size: The side ``S`` of the square images given to :meth:`forward` and :meth:`losses`.
        initial_state: A detector state dict (:func:`pretrained_detector_state`) to start from; its
            class-specific head layers are left out. ``None``: random weights.
        rois_per_image: Faster R-CNN only: the proposals sampled per image to train the box head
            (``None``: torchvision's 512). The box head's cost grows with it: at 320 px, batch 16,
            128 makes a CPU training step of fasterrcnn_mobilenet_v3_large_320_fpn about 5x cheaper.

    After construction, :attr:`loaded` counts the tensors taken from ``initial_state``,
    :attr:`replaced` names the head tensors that start fresh, and :attr:`initialisation` says it in
    one line for the run's log.
    """

    def __init__(self, name: str, num_classes: int, image_size: int,
                 initial_state: Mapping[str, Tensor] | None = None, rois_per_image: int | None = None):
        super().__init__()
        _check_name(name)
        if num_classes < 1:
            raise ConfigError("a detector needs at least one class", expected="num_classes >= 1", got=str(num_classes))
        self.name = name
        self.num_classes = num_classes
        self.image_size = image_size
        self.label_offset = 1 if name in _BACKGROUND_CLASS else 0
        self.max_detections = MAX_DETECTIONS
        self.model = _build(name, num_classes + self.label_offset, image_size)
        if rois_per_image is not None and name.startswith("fasterrcnn"):
            self.model.roi_heads.fg_bg_sampler.batch_size_per_image = rois_per_image
        self.loaded = 0
        self.replaced: tuple[str, ...] = ()
        self.initialisation = f"{name}: random weights"
        if initial_state is not None:
            _prepare_fine_tuning(self.model, name)
            self.loaded, self.replaced = _load_state(self.model, initial_state, name)
            layers = sorted({key.rsplit(".", 1)[0] for key in self.replaced})
            self.initialisation = (f"{name}: {self.loaded} pretrained tensors loaded; new head for "
                                   f"{num_classes} classes: {', '.join(layers)}")

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        """Detections of ``images`` ``[B, 3, S, S]`` (eval mode), padded to :data:`MAX_DETECTIONS`."""
        if self.training:
            raise RuntimeError("TorchvisionDetector.forward predicts in eval mode; train with losses()")
        batch = [image for image in images.unbind(0)]
        if torch.jit.is_scripting():
            detections = self.model(batch)[1]
        else:
            detections = self.model(batch)
        count = self.max_detections
        boxes, scores, labels = [], [], []
        for found in detections:
            padded_scores, order = _pad(found["scores"], count).topk(count)
            scores.append(padded_scores)
            boxes.append(_pad(found["boxes"], count)[order])
            shifted = found["labels"] - self.label_offset  # torchvision never returns the background
            labels.append(_pad(shifted, count)[order])
        return {"boxes": torch.stack(boxes), "scores": torch.stack(scores), "labels": torch.stack(labels)}

    @torch.jit.unused
    def losses(self, images: Tensor, targets: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        """torchvision's training losses for ``images`` ``[B, 3, S, S]`` and their sum under ``"loss"``.

        ``targets[i]`` holds ``boxes`` ``[N, 4]`` (xyxy, input pixels; ``N`` may be 0) and ``labels``
        ``[N]`` (int64, ``0..C-1``). Boxes without area (cropped away by augmentation, say) are left
        out, as torchvision refuses them. In train mode this is a training step's loss; in eval mode
        the same losses are computed with the normalisation layers kept in eval mode, so a
        validation loss changes no running statistics.
        """
        shifted = []
        for target in targets:
            boxes = target["boxes"].to(images.device, torch.float32).reshape(-1, 4)
            labels = target["labels"].to(images.device, torch.int64).reshape(-1)
            keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
            shifted.append({"boxes": boxes[keep], "labels": labels[keep] + self.label_offset})
        batch = list(images.unbind(0))
        if self.training:
            parts = self.model(batch, shifted)
        else:
            with _losses_in_eval(self.model):
                parts = self.model(batch, shifted)
        total = sum(parts.values(), images.new_zeros(()))
        return {"loss": total, **parts}


def check_torchvision_model(name: str, pretrained: bool, weights_file: str | None) -> None:
    """Raise ConfigError now for an unknown name, or weights that are missing or unreadable.

    ``weights_file`` must be a state dict; ``pretrained`` without it needs torchvision's COCO weights
    for ``name`` in the local torch hub cache. Nothing is downloaded.
    """
    _check_name(name)
    if weights_file:
        read_weights_file(Path(weights_file).expanduser())
    elif pretrained:
        read_weights_file(cached_weights_path(name))


def pretrained_detector_state(name: str, weights_file: str | None) -> dict[str, Tensor]:
    """The state dict in ``weights_file``, or torchvision's COCO weights for ``name`` from the cache.

    Never downloads: a missing file is a ConfigError saying which file to put where.
    """
    _check_name(name)
    path = Path(weights_file).expanduser() if weights_file else cached_weights_path(name)
    return read_weights_file(path)


def cached_weights_path(name: str) -> Path:
    """Where torch keeps torchvision's default (COCO) weights for ``name``; ConfigError if absent."""
    return cached_torchvision_weights(name)


def _check_name(name: str) -> None:
    if name not in TORCHVISION_MODELS:
        raise ConfigError(f"unknown detection model '{name}'", expected="one of " + ", ".join(TORCHVISION_MODELS),
                          got=name, hint=did_you_mean(name, TORCHVISION_MODELS))


def _build(name: str, classes: int, image_size: int) -> nn.Module:
    """torchvision's ``name`` with random weights, ``classes`` outputs (background included) and our settings."""
    import torchvision
    from torchvision.models.detection.transform import GeneralizedRCNNTransform

    common = {"weights": None, "weights_backbone": None, "num_classes": classes}
    if name.startswith("fasterrcnn"):
        settings = {"min_size": image_size, "max_size": image_size, "box_score_thresh": SCORE_THRESHOLD,
                    "box_detections_per_img": MAX_DETECTIONS}
    elif name.startswith("ssdlite"):
        settings = {"score_thresh": SCORE_THRESHOLD, "detections_per_img": MAX_DETECTIONS}
    else:
        settings = {"min_size": image_size, "max_size": image_size, "score_thresh": SCORE_THRESHOLD,
                    "detections_per_img": MAX_DETECTIONS}
    model = torchvision.models.get_model(name, **common, **settings)
    if name.startswith("ssdlite"):
        old = model.transform
        model.transform = GeneralizedRCNNTransform(image_size, image_size, old.image_mean, old.image_std,
                                                   size_divisible=1, fixed_size=(image_size, image_size))
    return model


def _prepare_fine_tuning(model: nn.Module, name: str) -> None:
    """Set ``model`` up as torchvision sets up ``name`` when it starts from pretrained weights."""
    kind, frozen_norm = _FINE_TUNING[name]
    if kind is None:
        return
    body = model.backbone.body
    if frozen_norm:
        _freeze_batch_norm(body)
    if kind == "resnet":
        trainable = ("layer4", "layer3", "layer2", "layer1", "conv1")[:PRETRAINED_TRAINABLE_STAGES]
        for key, parameter in body.named_parameters():
            if not key.startswith(trainable):
                parameter.requires_grad_(False)
    else:  # mobilenet: stages are the stem, each block that starts a new resolution, and the last block
        blocks = list(body.children())
        starts = [0] + [i for i, block in enumerate(blocks) if getattr(block, "_is_cn", False)] + [len(blocks) - 1]
        for block in blocks[:starts[len(starts) - PRETRAINED_TRAINABLE_STAGES]]:
            block.requires_grad_(False)


def _freeze_batch_norm(module: nn.Module) -> None:
    """Replace every BatchNorm2d under ``module`` by a FrozenBatchNorm2d (eps 1e-5, as torchvision builds them)."""
    from torchvision.ops import FrozenBatchNorm2d

    for child_name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features)
            frozen.weight.copy_(child.weight.detach())
            frozen.bias.copy_(child.bias.detach())
            frozen.running_mean.copy_(child.running_mean)
            frozen.running_var.copy_(child.running_var)
            setattr(module, child_name, frozen)
        else:
            _freeze_batch_norm(child)


def _load_state(model: nn.Module, state: Mapping[str, Tensor], name: str) -> tuple[int, tuple[str, ...]]:
    """Load ``state`` into ``model`` except the head; (tensors loaded, head keys left fresh)."""
    own = model.state_dict()
    state = without_prefix(state, own)
    head = re.compile(_HEAD_KEYS[name])
    replaced = tuple(key for key in own if head.match(key))
    usable = {key: value for key, value in state.items()
              if key in own and not head.match(key) and own[key].shape == value.shape}
    missing = [key for key in own if key not in usable and key not in replaced and not _NOT_REQUIRED.search(key)]
    if missing:
        wrong = [key for key in missing if key in state]
        example = wrong[0] if wrong else missing[0]
        detail = "mis-shaped" if wrong else "missing"
        raise ConfigError(f"weights do not fit {name}", expected=f"a {name} state dict",
                          got=f"{len(missing)} of {len(own)} tensors missing or mis-shaped (e.g. {example}: {detail})",
                          hint="pass the weights of the same architecture as model=")
    model.load_state_dict(usable, strict=False)
    return len(usable), replaced


def _pad(values: Tensor, size: int) -> Tensor:
    """``values`` ``[n]`` or ``[n, k]`` (``n <= size``) followed by zeros to ``size`` rows.

    Concatenate then slice: exportable with no arithmetic on the dynamic ``n``.
    """
    shape = list(values.shape)
    shape[0] = size
    return torch.cat([values, values.new_zeros(shape)])[:size]


_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.Dropout)


@contextmanager
def _losses_in_eval(model: nn.Module) -> Iterator[None]:
    """``model``'s modules in train mode, except normalisation and dropout, for one loss computation."""
    switched = [module for module in model.modules() if not isinstance(module, _NORMS) and not module.training]
    for module in switched:
        module.training = True
    try:
        yield
    finally:
        for module in switched:
            module.training = False
