"""A compact anchor-free single-stage detector that trains from scratch on a CPU.

Design (FCOS-like, sized for 320 px inputs and a few classes):

* **Backbone**: a stem (3x3 conv, stride 2) and four stages of depthwise-separable blocks
  (3x3 depthwise + 1x1 pointwise, BatchNorm, ReLU), strides 4, 8, 16 and 32.
* **Neck**: a light FPN over strides 8, 16 and 32 (1x1 laterals to ``fpn`` channels, top-down
  nearest upsampling and addition, one depthwise-separable smoothing block per level).
* **Head**: shared across levels, a classification tower and a regression tower of
  ``head_depth`` depthwise-separable blocks each; per level it gives class logits (sigmoid focal
  loss), ``ltrb`` distances from each location to the box sides (``exp`` of a per-level learnable
  scale times the stride, GIoU loss) and a centerness logit (BCE), as in FCOS. The stride-8 level
  costs most of a training step, so ``lean_head`` drops the BN and ReLU between each neck and head
  block's depthwise and pointwise convs, and ``out_kernel=1`` makes the three output convs 1x1.
* **Targets**: a location is positive for a box when it lies inside the box and within
  ``center_radius`` strides of its centre, and the box's largest ``ltrb`` distance falls in the
  level's scale range (``(0, 64]``, ``(64, 128]``, ``(128, inf)`` pixels at strides 8/16/32); a
  location claimed by several boxes takes the smallest one.
* **Decoding**: score ``sqrt(sigmoid(class) * sigmoid(centerness))``, a score threshold, top-k per
  level, class-wise NMS (``torchvision.ops.batched_nms``) and ``max_det``.

Images are RGB floats in ``[0, 1]``, shape ``[B, 3, H, W]``; the model normalises them itself. Any
size works: ``H`` and ``W`` are padded on the bottom and right to a multiple of 32 (pixel
coordinates do not move), and :meth:`CompactDetector.decode` clips boxes to the real image size.
The forward pass returns a dict of raw head outputs per level, named ``cls_s8``, ``box_s8``,
``ctr_s8``, ... so that exports keep the names. Weights and activations are kept channels-last
(NHWC): oneDNN runs the depthwise and 1x1 convolutions of a training step about 1.5x faster so, and
the model's outputs are the same either way.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import batched_nms, generalized_box_iou_loss, sigmoid_focal_loss

STRIDES = (8, 16, 32)
SIZE_MULTIPLE = 32
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
CLS_LOSSES = ("focal", "quality_focal")
QUALITIES = ("centerness", "iou")


def _conv_bn(cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
                               nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class SeparableBlock(nn.Module):
    """3x3 depthwise conv-BN-ReLU then 1x1 pointwise conv-BN-ReLU; a residual sum when shapes allow.
    ``lean``: the depthwise conv alone (no BN or ReLU of its own; the pointwise conv's BN follows it),
    which halves the block's normalisation work (the costliest part of a training step after the convs)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, lean: bool = False):
        super().__init__()
        self.depthwise = (nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False) if lean
                          else _conv_bn(cin, cin, 3, stride, groups=cin))
        self.pointwise = _conv_bn(cin, cout, 1)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        y = self.pointwise(self.depthwise(x))
        return x + y if self.residual else y


def _stage(cin: int, cout: int, depth: int) -> nn.Sequential:
    return nn.Sequential(SeparableBlock(cin, cout, stride=2), *[SeparableBlock(cout, cout) for _ in range(depth - 1)])


def _paired_iou(a: Tensor, b: Tensor) -> Tensor:
    """IoU of ``a[i]`` with ``b[i]`` (xyxy ``[N, 4]`` each)."""
    width = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    height = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    overlap = width * height
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return overlap / (area_a + area_b - overlap).clamp(min=1e-6)


class CompactDetector(nn.Module):
    """An FCOS-style detector with a small depthwise-separable backbone and a light FPN.

    ``width`` scales the backbone channels (``width * (1, 2, 4, 6, 8)`` from stride 2 to 32),
    ``fpn`` is the neck and head width, ``depths`` the block counts of the four strided stages,
    ``head_depth`` the blocks per head tower. ``scale_ranges`` bound the largest ``ltrb`` distance
    that each level (strides 8, 16, 32) is trained on.

    ``cls_loss``: ``focal`` (hard 0/1 targets) or ``quality_focal`` (GFL's quality focal loss: the true
    class's target is the IoU of the predicted box with its ground truth, so the class score ranks boxes
    by how well they fit; ``focal_gamma`` is then its modulating power). ``quality``: what the ``ctr``
    branch learns, the FCOS ``centerness`` or the ``iou`` of the predicted box. ``box_weight`` scales
    the GIoU loss. ``lean_head`` and ``out_kernel``: see the module's docstring (the defaults build the
    first design, which bundles that do not record them were trained with).
    """

    def __init__(self, num_classes: int, width: int = 16, fpn: int = 64, depths: tuple[int, ...] = (1, 2, 3, 2),
                 head_depth: int = 2, center_radius: float = 1.5,
                 scale_ranges: tuple[tuple[float, float], ...] = ((0.0, 64.0), (64.0, 128.0), (128.0, math.inf)),
                 focal_alpha: float = 0.25, focal_gamma: float = 2.0, prior: float = 0.01,
                 cls_loss: str = "focal", quality: str = "centerness", box_weight: float = 1.0,
                 lean_head: bool = False, out_kernel: int = 3):
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be at least 1, got {num_classes}")
        if len(depths) != 4 or len(scale_ranges) != len(STRIDES):
            raise ValueError("depths needs 4 entries and scale_ranges one per stride (8, 16, 32)")
        self.num_classes = num_classes
        self.strides = STRIDES
        self.center_radius = center_radius
        self.scale_ranges = tuple((float(lo), float(hi)) for lo, hi in scale_ranges)
        self.focal_alpha, self.focal_gamma = focal_alpha, focal_gamma
        if cls_loss not in CLS_LOSSES:
            raise ValueError(f"cls_loss must be one of {CLS_LOSSES}, got {cls_loss!r}")
        if quality not in QUALITIES:
            raise ValueError(f"quality must be one of {QUALITIES}, got {quality!r}")
        self.cls_loss, self.quality, self.box_weight = cls_loss, quality, float(box_weight)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)

        c = [width, width * 2, width * 4, width * 6, width * 8]  # strides 2, 4, 8, 16, 32
        self.stem = _conv_bn(3, c[0], 3, stride=2)
        self.stages = nn.ModuleList(_stage(c[i], c[i + 1], depths[i]) for i in range(4))
        self.laterals = nn.ModuleList(_conv_bn(ch, fpn, 1, act=False) for ch in c[2:])
        self.smooth = nn.ModuleList(SeparableBlock(fpn, fpn, lean=lean_head) for _ in STRIDES)
        self.cls_tower = nn.Sequential(*[SeparableBlock(fpn, fpn, lean=lean_head) for _ in range(head_depth)])
        self.reg_tower = nn.Sequential(*[SeparableBlock(fpn, fpn, lean=lean_head) for _ in range(head_depth)])
        self.cls_out = nn.Conv2d(fpn, num_classes, out_kernel, padding=out_kernel // 2)
        self.box_out = nn.Conv2d(fpn, 4, out_kernel, padding=out_kernel // 2)
        self.ctr_out = nn.Conv2d(fpn, 1, out_kernel, padding=out_kernel // 2)
        self.box_scales = nn.Parameter(torch.zeros(len(STRIDES)))  # log-scale per level
        for conv in (self.cls_out, self.box_out, self.ctr_out):
            nn.init.normal_(conv.weight, std=0.01)
            nn.init.zeros_(conv.bias)
        nn.init.constant_(self.cls_out.bias, -math.log((1 - prior) / prior))
        self.to(memory_format=torch.channels_last)  # oneDNN runs these convolutions ~1.5x faster channels-last

    # ------------------------------------------------------------------ forward

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        """Raw outputs per level ``s`` in (8, 16, 32): ``cls_s{s}`` ``[B, C, h, w]`` class logits,
        ``box_s{s}`` ``[B, 4, h, w]`` ltrb distances in input pixels, ``ctr_s{s}`` ``[B, 1, h, w]``
        centerness logits, where ``h = ceil(H / 32) * 32 / s`` (inputs are padded to a multiple of 32)."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be [B, 3, H, W], got {list(images.shape)}")
        x = (images - self.mean) / self.std
        height, width = x.shape[-2:]
        pad_h, pad_w = (-height) % SIZE_MULTIPLE, (-width) % SIZE_MULTIPLE
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))  # zeros = the mean colour after normalising
        x = x.contiguous(memory_format=torch.channels_last)
        x = self.stem(x)
        features = []
        for index, stage in enumerate(self.stages):
            x = stage(x)
            if index >= 1:  # strides 8, 16, 32
                features.append(x)
        laterals = [lateral(f) for lateral, f in zip(self.laterals, features)]
        for index in range(len(laterals) - 2, -1, -1):
            laterals[index] = laterals[index] + F.interpolate(laterals[index + 1], size=laterals[index].shape[-2:],
                                                              mode="nearest")
        outputs: dict[str, Tensor] = {}
        for index, (stride, feature) in enumerate(zip(self.strides, laterals)):
            feature = self.smooth[index](feature)
            cls_feature = self.cls_tower(feature)
            reg_feature = self.reg_tower(feature)
            log_distance = (self.box_out(reg_feature) + self.box_scales[index]).clamp(max=10.0)
            outputs[f"cls_s{stride}"] = self.cls_out(cls_feature)
            outputs[f"box_s{stride}"] = torch.exp(log_distance) * stride
            outputs[f"ctr_s{stride}"] = self.ctr_out(reg_feature)
        return outputs

    # ------------------------------------------------------------------ shared helpers

    def _flatten(self, outputs: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Concatenate levels: logits ``[B, N, C]``, ltrb ``[B, N, 4]``, centerness ``[B, N]``,
        points ``[N, 2]`` (x, y in pixels) and the level index of each point ``[N]``."""
        logits, boxes, centers, points, levels = [], [], [], [], []
        for level, stride in enumerate(self.strides):
            cls = outputs[f"cls_s{stride}"]
            batch, _, h, w = cls.shape
            logits.append(cls.permute(0, 2, 3, 1).reshape(batch, h * w, -1))
            boxes.append(outputs[f"box_s{stride}"].permute(0, 2, 3, 1).reshape(batch, h * w, 4))
            centers.append(outputs[f"ctr_s{stride}"].reshape(batch, h * w))
            ys = (torch.arange(h, device=cls.device, dtype=cls.dtype) + 0.5) * stride
            xs = (torch.arange(w, device=cls.device, dtype=cls.dtype) + 0.5) * stride
            grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
            points.append(torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], dim=1))
            levels.append(torch.full((h * w,), level, device=cls.device, dtype=torch.long))
        return (torch.cat(logits, 1), torch.cat(boxes, 1), torch.cat(centers, 1), torch.cat(points),
                torch.cat(levels))

    @staticmethod
    def _to_boxes(points: Tensor, ltrb: Tensor) -> Tensor:
        return torch.cat([points - ltrb[..., :2], points + ltrb[..., 2:]], dim=-1)

    # ------------------------------------------------------------------ training

    @torch.no_grad()
    def assign(self, points: Tensor, levels: Tensor, boxes: Tensor) -> tuple[Tensor, Tensor]:
        """For one image: the index of the box each point is trained on (``-1``: background) and the
        ``ltrb`` target distances ``[N, 4]``. ``boxes`` are ``[G, 4]`` xyxy pixels."""
        count = points.shape[0]
        if boxes.numel() == 0:
            return torch.full((count,), -1, dtype=torch.long, device=points.device), points.new_zeros(count, 4)
        x, y = points[:, 0:1], points[:, 1:2]  # [N, 1]
        ltrb = torch.stack([x - boxes[:, 0], y - boxes[:, 1], boxes[:, 2] - x, boxes[:, 3] - y], dim=2)  # [N, G, 4]
        inside_box = ltrb.min(dim=2).values > 0
        strides = points.new_tensor(self.strides)[levels].unsqueeze(1)  # [N, 1]
        radius = strides * self.center_radius
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        near_center = ((x - cx).abs() < radius) & ((y - cy).abs() < radius)
        ranges = points.new_tensor(self.scale_ranges)[levels]  # [N, 2]
        reach = ltrb.max(dim=2).values
        in_range = (reach > ranges[:, 0:1]) & (reach <= ranges[:, 1:2])
        # a box too small for any point of its level still gets its nearest point on the finest level
        candidate = inside_box & near_center & in_range
        areas = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).unsqueeze(0).expand(count, -1)
        areas = torch.where(candidate, areas, torch.full_like(areas, math.inf))
        smallest, index = areas.min(dim=1)
        unmatched = ~candidate.any(dim=0)
        if unmatched.any():  # e.g. a box thinner than a stride: take its nearest finest-level point
            finest = levels == 0
            distance = (x - cx) ** 2 + (y - cy) ** 2  # [N, G]
            distance = torch.where(finest.unsqueeze(1), distance, torch.full_like(distance, math.inf))
            nearest = distance.argmin(dim=0)
            for g in torch.nonzero(unmatched).flatten().tolist():
                p = int(nearest[g])
                if torch.isinf(smallest[p]):
                    index[p], smallest[p] = g, 0.0
        matched = torch.where(torch.isinf(smallest), torch.full_like(index, -1), index)
        targets = ltrb[torch.arange(count, device=points.device), index.clamp(min=0)].clamp(min=0.01)
        return matched, targets

    def loss(self, outputs: dict[str, Tensor], targets: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        """Focal (or quality focal) loss over all locations, GIoU (weighted by the centerness target, times
        ``box_weight``) and the quality branch's BCE (centerness or IoU target) over the positives, each
        normalised by the number of positives; ``loss`` is their sum.
        ``targets[i]``: ``boxes`` ``[N, 4]`` xyxy in input pixels, ``labels`` ``[N]`` in ``[0, C)``."""
        logits, ltrb, centers, points, levels = self._flatten(outputs)
        if len(targets) != logits.shape[0]:
            raise ValueError(f"got {len(targets)} targets for a batch of {logits.shape[0]} images")
        positives, box_targets, pos_labels = [], [], []
        for target in targets:
            boxes = target["boxes"].to(points).reshape(-1, 4)
            labels = target["labels"].to(points.device).long().reshape(-1)
            matched, distances = self.assign(points, levels, boxes)
            positives.append(matched >= 0)
            box_targets.append(distances)
            pos_labels.append(labels[matched.clamp(min=0)] if labels.numel() else matched.clamp(min=0))
        positive = torch.stack(positives)  # [B, N]
        distances = torch.stack(box_targets)  # [B, N, 4]
        label_of = torch.stack(pos_labels)  # [B, N], meaningful where positive
        num_pos = max(float(positive.sum()), 1.0)
        cls_target = torch.zeros_like(logits)
        if positive.any():
            pred = ltrb[positive]
            true = distances[positive]
            lr, tb = true[:, [0, 2]], true[:, [1, 3]]
            ctr_target = torch.sqrt((lr.min(1).values / lr.max(1).values) * (tb.min(1).values / tb.max(1).values))
            pts = points.unsqueeze(0).expand(positive.shape[0], -1, -1)[positive]
            pred_boxes, true_boxes = self._to_boxes(pts, pred), self._to_boxes(pts, true)
            giou = generalized_box_iou_loss(pred_boxes, true_boxes, reduction="none")
            iou = _paired_iou(pred_boxes.detach(), true_boxes).clamp(min=0.0)
            box_loss = self.box_weight * (giou * ctr_target).sum() / ctr_target.sum().clamp(min=1e-6)
            quality = ctr_target if self.quality == "centerness" else iou
            ctr_loss = F.binary_cross_entropy_with_logits(centers[positive], quality, reduction="sum") / num_pos
            soft = iou if self.cls_loss == "quality_focal" else torch.ones_like(iou)
            cls_target[positive, label_of[positive]] = soft.to(cls_target.dtype)
        else:
            box_loss = ltrb.sum() * 0.0
            ctr_loss = centers.sum() * 0.0
        if self.cls_loss == "focal":
            cls_loss = sigmoid_focal_loss(logits, cls_target, alpha=self.focal_alpha, gamma=self.focal_gamma,
                                          reduction="sum") / num_pos
        else:  # quality focal loss (GFL): a soft IoU target for the true class, modulated by the gap
            probability = torch.sigmoid(logits)
            modulator = (probability - cls_target).abs().pow(self.focal_gamma)
            cls_loss = (F.binary_cross_entropy_with_logits(logits, cls_target, reduction="none") * modulator
                        ).sum() / num_pos
        return {"loss": cls_loss + box_loss + ctr_loss, "cls": cls_loss, "box": box_loss, "ctr": ctr_loss}

    # ------------------------------------------------------------------ inference

    @torch.no_grad()
    def decode(self, outputs: dict[str, Tensor], image_size: tuple[int, int], conf: float = 0.25, iou: float = 0.5,
               max_det: int = 100, top_k: int = 1000) -> list[dict[str, Tensor]]:
        """Boxes per image: ``boxes`` ``[K, 4]`` xyxy pixels clipped to ``image_size`` (height, width),
        ``scores`` ``[K]`` in descending order, ``labels`` ``[K]``; at most ``max_det`` per image."""
        height, width = image_size
        results = []
        for image in range(outputs[f"cls_s{self.strides[0]}"].shape[0]):
            all_boxes, all_scores, all_labels = [], [], []
            for stride in self.strides:
                cls = outputs[f"cls_s{stride}"][image]  # [C, h, w]
                classes, _, w = cls.shape
                scores = torch.sqrt(torch.sigmoid(cls) * torch.sigmoid(outputs[f"ctr_s{stride}"][image]))
                scores = scores.permute(1, 2, 0).reshape(-1)  # [h * w * C], location-major
                keep = scores > conf
                candidates = torch.nonzero(keep).flatten()
                if candidates.numel() > top_k:
                    candidates = candidates[scores[candidates].topk(top_k).indices]
                location, label = candidates // classes, candidates % classes
                ys = (location // w).to(cls.dtype).add(0.5).mul(stride)
                xs = (location % w).to(cls.dtype).add(0.5).mul(stride)
                ltrb = outputs[f"box_s{stride}"][image].permute(1, 2, 0).reshape(-1, 4)[location]
                boxes = self._to_boxes(torch.stack([xs, ys], dim=1), ltrb)
                all_boxes.append(boxes)
                all_scores.append(scores[candidates])
                all_labels.append(label)
            boxes, scores, labels = torch.cat(all_boxes), torch.cat(all_scores), torch.cat(all_labels)
            boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
            boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
            valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
            boxes, scores, labels = boxes[valid], scores[valid], labels[valid]
            keep = batched_nms(boxes, scores, labels, iou)[:max_det]  # sorted by descending score
            results.append({"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]})
        return results

    @torch.no_grad()
    def predict(self, images: Tensor, conf: float = 0.25, iou: float = 0.5, max_det: int = 100) -> list[dict[str, Tensor]]:
        """Forward and decode in one call (eval mode is the caller's choice)."""
        return self.decode(self(images), tuple(images.shape[-2:]), conf=conf, iou=iou, max_det=max_det)
