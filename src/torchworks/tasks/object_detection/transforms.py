"""Augmentation that moves the boxes with the pixels, and the plain resize used to evaluate and predict.

Every transform takes and returns ``(image, target)``: the image a PIL image (or ``tv_tensors.Image``),
the target a dict with ``boxes`` (``tv_tensors.BoundingBoxes``, XYXY, with the image's canvas size),
``labels`` (int64) and ``iscrowd`` (bool); other keys pass through untouched. The image comes out as
float32 ``[3, S, S]`` in [0, 1]; mean/std normalisation is the model's business (torchvision's
detectors do it inside their own transform), so the same tensors feed every model.

Size: **letterbox**. The image is scaled so its longer side is ``image_size`` (aspect ratio kept, so
a car stays car-shaped whatever the camera's frame) and padded at the right and bottom to a square
``image_size x image_size`` with grey (114). Padding at the right and bottom only leaves box
coordinates unshifted, so a predicted box goes back to the stored image by dividing by the scale
alone (:func:`to_original`). Plain resize would distort non-square images and make the model learn
stretched shapes that differ from one data set to the next; letterbox costs some padded pixels.

Training, in this order: colour jitter (brightness, contrast, saturation, hue), zoom out (the image
placed on a grey canvas up to ``max_zoom_out`` times its size: smaller objects), random IoU crop (SSD's
crop with a minimum overlap with the boxes: larger objects), horizontal flip, letterbox, then boxes
clamped to the canvas and those under one pixel wide or high dropped together with their labels and
iscrowd flags. Zoom out and IoU crop together are the scale jitter. All randomness is torch's: a
``torch.manual_seed`` makes the augmentation repeat exactly. Images without boxes go through the same
pipeline (the IoU crop leaves them whole, having no box to keep).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import PIL.Image
import torch
from torchvision import tv_tensors
from torchvision.ops import box_iou
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

PAD_FILL = 114  # the grey of padding and zoomed-out canvas (uint8)
MIN_BOX_SIZE = 1.0  # pixels: a box narrower or lower than this after augmentation is dropped


def letterbox_size(height: int, width: int, image_size: int) -> tuple[int, int]:
    """``(height, width)`` of the scaled image inside the ``image_size`` square (the longer side fills it)."""
    scale = image_size / max(height, width)
    return max(1, min(image_size, round(height * scale))), max(1, min(image_size, round(width * scale)))


def to_original(boxes: torch.Tensor, orig_size: Sequence[int], image_size: int) -> torch.Tensor:
    """Boxes (N x 4 XYXY) on the letterboxed square back in pixels of the stored image ``(height, width)``,
    clamped to it."""
    height, width = int(orig_size[0]), int(orig_size[1])
    new_height, new_width = letterbox_size(height, width, image_size)
    factors = torch.tensor([width / new_width, height / new_height] * 2, dtype=boxes.dtype, device=boxes.device)
    scaled = boxes * factors
    limits = torch.tensor([width, height] * 2, dtype=boxes.dtype, device=boxes.device)
    return torch.minimum(scaled.clamp(min=0), limits)


def in_image(detections: dict[str, torch.Tensor], orig_size: Sequence[int], image_size: int
             ) -> dict[str, torch.Tensor]:
    """Detections (``boxes``, ``scores``, ``labels``...) on the letterboxed square moved to the stored image
    ``(height, width)``; boxes that lay in the padding (nothing of them left inside the image) are dropped."""
    boxes = to_original(detections["boxes"], orig_size, image_size)
    kept = (boxes[:, 2] - boxes[:, 0] > 0.01) & (boxes[:, 3] - boxes[:, 1] > 0.01)
    return {**{key: value[kept] for key, value in detections.items()}, "boxes": boxes[kept]}


class Letterbox(v2.Transform):
    """Scale so the longer side is ``size`` (aspect ratio kept), then pad right and bottom to ``size x size``."""

    def __init__(self, size: int, fill: int = PAD_FILL):
        super().__init__()
        self.size = size
        self.fill = fill

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        for inpt in flat_inputs:
            if isinstance(inpt, (tv_tensors.Image, PIL.Image.Image)):
                height, width = F.get_size(inpt)
                break
            if isinstance(inpt, tv_tensors.BoundingBoxes):
                height, width = inpt.canvas_size
                break
        else:
            raise TypeError("Letterbox needs an image or bounding boxes among its inputs")
        new_height, new_width = letterbox_size(height, width, self.size)
        return {"size": [new_height, new_width], "padding": [0, 0, self.size - new_width, self.size - new_height]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not isinstance(inpt, (tv_tensors.Image, tv_tensors.BoundingBoxes, tv_tensors.Mask, PIL.Image.Image)):
            return inpt
        resized = F.resize(inpt, params["size"], antialias=True)
        fill = self.fill if isinstance(inpt, (tv_tensors.Image, PIL.Image.Image)) else 0
        return F.pad(resized, params["padding"], fill=fill)


class QuickIoUCrop(v2.RandomIoUCrop):
    """SSD's random IoU crop, as torchvision's :class:`~torchvision.transforms.v2.RandomIoUCrop` draws it
    (an overlap from ``options``, then up to ``trials`` crops for it, the first that keeps a box centre
    and overlaps some such box by at least that much), with the trials of one overlap drawn and checked
    together as tensors: torchvision's loop over them in Python took ~23 ms an image, more than decoding
    and every other step together. An image without boxes is left whole at once (torchvision's loop
    reaches the same by drawing overlaps until "leave as is" comes up)."""

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = v2.query_size(flat_inputs)
        stored = v2.get_bounding_boxes(flat_inputs)
        boxes = F.convert_bounding_box_format(stored.as_subclass(torch.Tensor), stored.format,
                                              tv_tensors.BoundingBoxFormat.XYXY).reshape(-1, 4).float()
        if len(boxes) == 0:
            return {}
        centre_x, centre_y = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        while True:
            min_overlap = self.options[int(torch.randint(len(self.options), (1,)))]
            if min_overlap >= 1.0:  # "leave as is"
                return {}
            scale = self.min_scale + (self.max_scale - self.min_scale) * torch.rand(self.trials, 2)
            crop_w, crop_h = (width * scale[:, 0]).long(), (height * scale[:, 1]).long()
            aspect = crop_w / crop_h.clamp(min=1)
            position = torch.rand(self.trials, 2)
            left, top = ((width - crop_w) * position[:, 0]).long(), ((height - crop_h) * position[:, 1]).long()
            right, bottom = left + crop_w, top + crop_h
            within = ((left[:, None] < centre_x) & (centre_x < right[:, None])
                      & (top[:, None] < centre_y) & (centre_y < bottom[:, None]))  # trials x boxes
            overlaps = box_iou(torch.stack([left, top, right, bottom], 1).float(), boxes)
            best = torch.where(within, overlaps, torch.full_like(overlaps, -1.0)).amax(dim=1)
            good = ((aspect >= self.min_aspect_ratio) & (aspect <= self.max_aspect_ratio) & (crop_w > 0)
                    & (crop_h > 0) & within.any(dim=1) & (best >= min_overlap))
            if good.any():
                first = int(good.nonzero()[0])
                return {"top": int(top[first]), "left": int(left[first]), "height": int(crop_h[first]),
                        "width": int(crop_w[first]), "is_within_crop_area": within[first].reshape(stored.shape[:-1])}


def _labels_and_crowd(inputs: Any) -> tuple[torch.Tensor, ...]:
    """What SanitizeBoundingBoxes drops along with a box: its label and its iscrowd flag."""
    target = inputs[1] if isinstance(inputs, tuple) else inputs
    return tuple(target[key] for key in ("labels", "iscrowd") if key in target)


def train_transform(image_size: int = 320, *, color: float = 0.8, zoom_out: float = 0.3, max_zoom_out: float = 2.0,
                    iou_crop: float = 0.5, flip: float = 0.5) -> v2.Compose:
    """The training augmentation; each argument is the probability of that step (``max_zoom_out``: the
    largest canvas side as a multiple of the image's)."""
    steps: list[Any] = [v2.ToImage()]
    if color > 0:
        steps.append(v2.RandomApply([v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.03)],
                                    p=color))
    if zoom_out > 0 and max_zoom_out > 1:
        steps.append(v2.RandomZoomOut(fill={tv_tensors.Image: PAD_FILL, "others": 0},
                                      side_range=(1.0, max_zoom_out), p=zoom_out))
    if iou_crop > 0:
        steps.append(v2.RandomApply([QuickIoUCrop()], p=iou_crop))
    if flip > 0:
        steps.append(v2.RandomHorizontalFlip(p=flip))
    steps += [Letterbox(image_size), v2.ClampBoundingBoxes(),
              v2.SanitizeBoundingBoxes(min_size=MIN_BOX_SIZE, labels_getter=_labels_and_crowd),
              v2.ToDtype(torch.float32, scale=True)]
    return v2.Compose(steps)


def eval_transform(image_size: int = 320) -> v2.Compose:
    """Letterbox to ``image_size`` and scale to [0, 1]; boxes scaled along, none dropped."""
    return v2.Compose([v2.ToImage(), Letterbox(image_size), v2.ToDtype(torch.float32, scale=True)])
