"""Boxes from a detector's outputs, whichever detector (and runtime) made them.

Two output forms exist (see :mod:`~torchworks.tasks.object_detection.models`):

* **dense** (the compact detector, and its ONNX/TorchScript exports): per stride ``s`` the maps
  ``cls_s{s}`` ``[B, C, h, w]`` (class logits), ``box_s{s}`` ``[B, 4, h, w]`` (distances to the box
  sides in input pixels) and ``ctr_s{s}`` ``[B, 1, h, w]`` (centerness logit). Post-processing, the
  same for every runtime: score ``sqrt(sigmoid(cls) * sigmoid(ctr))``, the boxes over ``conf``
  (the ``top_k`` best per level), class-wise NMS at ``iou``, the ``max_det`` best.
* **padded** (torchvision's detectors, whose own post-processing already ran): ``boxes``
  ``[B, K, 4]``, ``scores`` ``[B, K]`` (0 for padding) and ``labels`` ``[B, K]``; here they are
  filtered by ``conf``, NMS'd again at ``iou`` and cut to ``max_det``.

Nothing here needs the model, so an export's outputs decode exactly like the eager model's.
Gradients flow through the kept scores when the caller enables them (``explain`` uses that).
"""

from __future__ import annotations

from collections.abc import Collection

import torch
from torch import Tensor
from torchvision.ops import batched_nms

Detections = dict[str, Tensor]  # boxes [K, 4] xyxy, scores [K] descending, labels [K] int64


def strides_of(outputs: dict[str, Tensor]) -> list[int]:
    """The strides of dense outputs, from their names (``cls_s8`` ...), finest first."""
    return sorted(int(key[len("cls_s"):]) for key in outputs if key.startswith("cls_s"))


def decode(outputs: dict[str, Tensor], image_size: tuple[int, int], *, conf: float = 0.25, iou: float = 0.5,
           max_det: int = 100, classes: Collection[int] | None = None, top_k: int = 1000) -> list[Detections]:
    """Boxes per image of a batch of outputs (either form), clipped to ``image_size`` (height, width).

    Args:
        outputs: A detector's outputs for a batch.
        image_size: The model input's (height, width): boxes are clipped to it.
        conf: The smallest score kept.
        iou: Class-wise NMS removes a box overlapping a better one of its class by more than this.
        max_det: The most boxes per image.
        classes: Class indices to keep (None: all).
        top_k: Candidates kept per level before NMS (dense outputs).
    """
    if "boxes" in outputs:
        return [_finish(outputs["boxes"][i], outputs["scores"][i], outputs["labels"][i].long(), image_size, conf,
                        iou, max_det, classes) for i in range(outputs["boxes"].shape[0])]
    strides = strides_of(outputs)
    if not strides:
        raise ValueError(f"not detector outputs: keys {sorted(outputs)}")
    results = []
    for image in range(outputs[f"cls_s{strides[0]}"].shape[0]):
        boxes, scores, labels = [], [], []
        for stride in strides:
            cls = outputs[f"cls_s{stride}"][image]  # [C, h, w]
            count, _, width = cls.shape
            score = torch.sqrt(torch.sigmoid(cls) * torch.sigmoid(outputs[f"ctr_s{stride}"][image]))
            score = score.permute(1, 2, 0).reshape(-1)  # [h * w * C], location-major
            candidates = torch.nonzero(score > conf).flatten()
            if classes is not None:
                wanted = torch.as_tensor(sorted(classes), device=candidates.device)
                candidates = candidates[torch.isin(candidates % count, wanted)]
            if candidates.numel() > top_k:
                candidates = candidates[score[candidates].topk(top_k).indices]
            location, label = candidates // count, candidates % count
            ys = (location // width).to(cls.dtype).add(0.5).mul(stride)
            xs = (location % width).to(cls.dtype).add(0.5).mul(stride)
            ltrb = outputs[f"box_s{stride}"][image].permute(1, 2, 0).reshape(-1, 4)[location]
            boxes.append(torch.cat([torch.stack([xs, ys], 1) - ltrb[:, :2], torch.stack([xs, ys], 1) + ltrb[:, 2:]],
                                   dim=1))
            scores.append(score[candidates])
            labels.append(label)
        results.append(_finish(torch.cat(boxes), torch.cat(scores), torch.cat(labels), image_size, 0.0, iou, max_det,
                               None))
    return results


def _finish(boxes: Tensor, scores: Tensor, labels: Tensor, image_size: tuple[int, int], conf: float, iou: float,
            max_det: int, classes: Collection[int] | None) -> Detections:
    """Threshold, clip, drop empty boxes, class-wise NMS and keep the best ``max_det``."""
    keep = scores > conf
    if classes is not None:
        keep &= torch.isin(labels, torch.as_tensor(sorted(classes), device=labels.device))
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    height, width = image_size
    boxes = torch.stack([boxes[:, 0].clamp(0, width), boxes[:, 1].clamp(0, height),
                         boxes[:, 2].clamp(0, width), boxes[:, 3].clamp(0, height)], dim=1)
    valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, scores, labels = boxes[valid], scores[valid], labels[valid]
    kept = batched_nms(boxes.detach().float(), scores.detach().float(), labels, iou)[:max_det]
    return {"boxes": boxes[kept], "scores": scores[kept], "labels": labels[kept]}
