"""Augmentation moves boxes with the pixels; letterbox is exact and reversible; negatives survive."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2

from torchworks.tasks.object_detection.transforms import (
    PAD_FILL,
    Letterbox,
    QuickIoUCrop,
    eval_transform,
    letterbox_size,
    to_original,
    train_transform,
)


def sample(boxes: list[list[float]], size: tuple[int, int] = (200, 100), labels: list[int] | None = None):
    width, height = size
    labels = labels if labels is not None else list(range(len(boxes)))
    target = {"boxes": tv_tensors.BoundingBoxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                                                format="XYXY", canvas_size=(height, width)),
              "labels": torch.tensor(labels, dtype=torch.int64),
              "iscrowd": torch.tensor([i % 2 == 1 for i in range(len(boxes))], dtype=torch.bool),
              "image_id": torch.tensor(7)}
    return Image.new("RGB", (width, height), (200, 30, 30)), target


def test_a_flip_moves_boxes_exactly():
    image, target = sample([[10, 20, 50, 60], [0, 0, 200, 100]])
    _, flipped = v2.Compose([v2.ToImage(), v2.RandomHorizontalFlip(p=1.0)])(image, target)
    expected = torch.tensor([[200 - 50, 20, 200 - 10, 60], [0, 0, 200, 100]], dtype=torch.float32)
    assert torch.equal(flipped["boxes"].as_subclass(torch.Tensor), expected)


def test_flip_in_the_training_pipeline_is_exact():
    image, target = sample([[10, 20, 50, 60]], size=(320, 320))
    transform = train_transform(320, color=0, zoom_out=0, iou_crop=0, flip=1.0)
    _, out = transform(image, target)
    assert torch.equal(out["boxes"], torch.tensor([[270.0, 20.0, 310.0, 60.0]]))


def test_letterbox_scales_boxes_exactly_and_pads_right_and_bottom():
    image, target = sample([[10, 20, 50, 60], [100, 0, 200, 100]], size=(200, 100))
    out_image, out = eval_transform(320)(image, target)
    assert out_image.shape == (3, 320, 320) and out_image.dtype == torch.float32
    assert letterbox_size(100, 200, 320) == (160, 320)
    assert torch.allclose(out["boxes"], torch.tensor([[16.0, 32, 80, 96], [160, 0, 320, 160]]))
    assert out["boxes"].canvas_size == (320, 320)
    # content on top, grey padding below
    assert torch.allclose(out_image[:, 100, 5], torch.tensor([200, 30, 30]) / 255, atol=0.01)
    assert torch.allclose(out_image[:, 200, 5], torch.full((3,), PAD_FILL / 255))
    assert torch.equal(out["labels"], target["labels"]) and int(out["image_id"]) == 7


@pytest.mark.parametrize("size", [(200, 100), (100, 200), (333, 257), (320, 320), (40, 30)])
def test_to_original_undoes_the_letterbox(size):
    width, height = size
    boxes = [[0, 0, width, height], [width / 4, height / 3, width / 2, height * 0.9]]
    image, target = sample(boxes, size=size)
    _, out = eval_transform(320)(image, target)
    back = to_original(out["boxes"].as_subclass(torch.Tensor), (height, width), 320)
    assert torch.allclose(back, torch.tensor(boxes, dtype=torch.float32), atol=1e-3)


def test_letterbox_of_a_plain_resize_scales_each_axis_by_its_factor():
    image, target = sample([[3, 7, 11, 13]], size=(333, 257))
    _, out = Letterbox(320)(v2.ToImage()(image), target)
    h, w = letterbox_size(257, 333, 320)
    expected = torch.tensor([[3 * w / 333, 7 * h / 257, 11 * w / 333, 13 * h / 257]])
    assert torch.allclose(out["boxes"].as_subclass(torch.Tensor), expected, atol=1e-5)


def test_iou_crop_keeps_boxes_inside_and_non_empty_and_drops_labels_with_boxes():
    torch.manual_seed(0)
    transform = v2.Compose([v2.ToImage(), QuickIoUCrop(), v2.ClampBoundingBoxes(),
                            v2.SanitizeBoundingBoxes(labels_getter=lambda x: (x[1]["labels"], x[1]["iscrowd"]))])
    boxes = [[x, y, x + 25, y + 18] for x in range(0, 180, 30) for y in range(0, 80, 20)]
    dropped = 0
    for _ in range(30):
        image, target = sample(boxes, size=(200, 100))
        out_image, out = transform(image, target)
        h, w = out_image.shape[-2:]
        b = out["boxes"].as_subclass(torch.Tensor)
        assert out["boxes"].canvas_size == (h, w)
        assert (b[:, 0] >= 0).all() and (b[:, 1] >= 0).all() and (b[:, 2] <= w).all() and (b[:, 3] <= h).all()
        assert ((b[:, 2] - b[:, 0]) > 0).all() and ((b[:, 3] - b[:, 1]) > 0).all()
        assert len(b) == len(out["labels"]) == len(out["iscrowd"])
        # the labels that survived are those of surviving boxes: label i was box i, iscrowd odd i
        assert torch.equal(out["iscrowd"], out["labels"] % 2 == 1)
        dropped += len(boxes) - len(b)
    assert dropped > 0


def _crops(crop, boxes, draws: int) -> list[dict]:
    image, target = sample(boxes, size=(200, 100))
    inputs = [v2.ToImage()(image), target["boxes"]]
    return [crop.make_params(inputs) for _ in range(draws)]


def test_the_quick_iou_crop_draws_crops_as_torchvision_does():
    boxes = [[10, 10, 40, 30], [120, 50, 190, 95], [60, 20, 70, 28]]
    torch.manual_seed(3)
    quick = _crops(QuickIoUCrop(), boxes, 600)
    torch.manual_seed(4)
    reference = _crops(v2.RandomIoUCrop(), boxes, 600)

    def summary(params: list[dict]) -> tuple[float, float, float]:
        cropped = [p for p in params if p]
        return (len(cropped) / len(params), sum(p["width"] * p["height"] for p in cropped) / len(cropped) / 20_000,
                sum(float(p["is_within_crop_area"].float().mean()) for p in cropped) / len(cropped))

    (share, area, kept), (share_ref, area_ref, kept_ref) = summary(quick), summary(reference)
    assert abs(share - share_ref) < 0.06 and abs(area - area_ref) < 0.04 and abs(kept - kept_ref) < 0.06
    target = torch.tensor(boxes, dtype=torch.float32)
    for p in quick:  # each crop keeps a box centre and lies in the image with an aspect ratio in [0.5, 2]
        if p:
            assert p["is_within_crop_area"].any() and p["left"] + p["width"] <= 200 and p["top"] + p["height"] <= 100
            assert 0.5 <= p["width"] / p["height"] <= 2.0
            centres = (target[:, :2] + target[:, 2:]) / 2
            inside = ((centres[:, 0] > p["left"]) & (centres[:, 0] < p["left"] + p["width"])
                      & (centres[:, 1] > p["top"]) & (centres[:, 1] < p["top"] + p["height"]))
            assert torch.equal(inside, p["is_within_crop_area"])


def test_the_quick_iou_crop_leaves_an_image_without_boxes_whole():
    assert _crops(QuickIoUCrop(), [], 20) == [{}] * 20


def test_full_training_pipeline_keeps_boxes_valid_and_output_square():
    torch.manual_seed(1)
    transform = train_transform(128, zoom_out=0.5, iou_crop=0.9)
    boxes = [[x, 10, x + 12, 40] for x in range(0, 190, 20)]
    for _ in range(20):
        image, target = sample(boxes)
        out_image, out = transform(image, target)
        assert out_image.shape == (3, 128, 128) and out_image.dtype == torch.float32
        assert 0 <= float(out_image.min()) and float(out_image.max()) <= 1
        b = out["boxes"]
        assert ((b >= 0) & (b <= 128)).all()
        assert ((b[:, 2] - b[:, 0]) >= 1).all() and ((b[:, 3] - b[:, 1]) >= 1).all()
        assert len(b) == len(out["labels"]) == len(out["iscrowd"])
        assert torch.equal(out["iscrowd"], out["labels"] % 2 == 1)


def test_images_without_boxes_go_through_training_and_eval():
    torch.manual_seed(0)
    for transform in (train_transform(64), eval_transform(64)):
        for _ in range(10):
            image, target = sample([], labels=[])
            out_image, out = transform(image, target)
            assert out_image.shape == (3, 64, 64)
            assert out["boxes"].shape == (0, 4) and out["labels"].shape == (0,) and out["iscrowd"].shape == (0,)


def test_augmentation_repeats_under_a_torch_seed():
    transform = train_transform(96)
    boxes = [[10, 10, 60, 50], [100, 20, 190, 90]]

    def run(seed):
        torch.manual_seed(seed)
        return [transform(*sample(boxes)) for _ in range(5)]

    first, again, other = run(5), run(5), run(6)
    for (image_a, target_a), (image_b, target_b) in zip(first, again):
        assert torch.equal(image_a, image_b) and torch.equal(target_a["boxes"], target_b["boxes"])
    assert any(not torch.equal(a[0], b[0]) for a, b in zip(first, other))
