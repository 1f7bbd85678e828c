"""The compact anchor-free detector: output shapes, losses, decoding and a tiny overfit."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.ops import box_iou

from torchworks.scenes.street import render_scene
from torchworks.tasks.object_detection.compact import CompactDetector
from torchworks.tasks.object_detection.models import COMPACT_OPTIONS


@pytest.fixture
def model():
    torch.manual_seed(0)
    return CompactDetector(num_classes=4)


@pytest.mark.parametrize("size", [(128, 128), (320, 224)])
def test_outputs_per_level_have_the_expected_shapes(model, size):
    outputs = model(torch.rand(2, 3, *size))
    assert sorted(outputs) == sorted(f"{kind}_s{s}" for kind in ("cls", "box", "ctr") for s in (8, 16, 32))
    for stride in (8, 16, 32):
        h, w = size[0] // stride, size[1] // stride
        assert outputs[f"cls_s{stride}"].shape == (2, 4, h, w)
        assert outputs[f"box_s{stride}"].shape == (2, 4, h, w)
        assert outputs[f"ctr_s{stride}"].shape == (2, 1, h, w)
        assert (outputs[f"box_s{stride}"] > 0).all()


def test_sizes_not_divisible_by_32_are_padded_on_the_bottom_and_right(model):
    outputs = model(torch.rand(1, 3, 100, 150))
    assert outputs["cls_s8"].shape[-2:] == (16, 20)  # 128 x 160 after padding
    results = model.eval().decode(outputs, (100, 150), conf=0.0, max_det=50)
    boxes = results[0]["boxes"]
    assert (boxes[:, 2] <= 150).all() and (boxes[:, 3] <= 100).all()


def test_bad_input_shape_is_refused(model):
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        model(torch.rand(3, 64, 64))


def test_loss_is_finite_with_empty_targets_and_with_boxes(model):
    outputs = model(torch.rand(2, 3, 128, 128))
    empty = [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}] * 2
    losses = model.loss(outputs, empty)
    assert all(math.isfinite(float(v.detach())) for v in losses.values())
    assert float(losses["cls"].detach()) > 0 and float(losses["box"].detach()) == 0.0
    losses["loss"].backward()  # gradients flow even without a positive

    model.zero_grad()
    outputs = model(torch.rand(2, 3, 128, 128))
    targets = [
        {"boxes": torch.tensor([[10.0, 20.0, 60.0, 50.0], [70.0, 5.0, 126.0, 120.0]]), "labels": torch.tensor([0, 3])},
        # a box thinner than the finest stride still gets a positive location
        {"boxes": torch.tensor([[30.0, 30.0, 33.0, 90.0]]), "labels": torch.tensor([1])},
    ]
    losses = model.loss(outputs, targets)
    assert all(math.isfinite(float(v.detach())) for v in losses.values())
    assert float(losses["box"].detach()) > 0 and float(losses["ctr"].detach()) > 0
    losses["loss"].backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())


def test_every_box_gets_positives_on_the_level_of_its_size(model):
    outputs = model(torch.rand(1, 3, 320, 320))
    _, _, _, points, levels = model._flatten(outputs)
    boxes = torch.tensor([[10.0, 10.0, 40.0, 40.0], [20.0, 20.0, 300.0, 300.0], [50.0, 200.0, 53.0, 204.0]])
    matched, distances = model.assign(points, levels, boxes)
    assert set(matched[matched >= 0].tolist()) == {0, 1, 2}
    assert set(levels[matched == 0].tolist()) == {0}  # small box: stride 8
    assert set(levels[matched == 1].tolist()) == {2}  # large box: stride 32
    assert (distances[matched >= 0] > 0).all()


def test_decode_returns_valid_sorted_boxes_inside_the_image(model):
    model.eval()
    with torch.no_grad():
        outputs = model(torch.rand(3, 3, 128, 192))
    results = model.decode(outputs, (128, 192), conf=0.0, iou=0.5, max_det=7)
    assert len(results) == 3
    for result in results:
        boxes, scores, labels = result["boxes"], result["scores"], result["labels"]
        assert 0 < len(boxes) <= 7 and boxes.shape == (len(scores), 4) and labels.shape == scores.shape
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
        assert (boxes[:, 2] <= 192).all() and (boxes[:, 3] <= 128).all()
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
        assert (scores[:-1] >= scores[1:]).all() and ((scores >= 0) & (scores <= 1)).all()
        assert ((labels >= 0) & (labels < 4)).all()
    # nothing survives a threshold above every score
    assert all(len(r["boxes"]) == 0 for r in model.decode(outputs, (128, 192), conf=0.999))


@pytest.mark.parametrize("design", ["first", "default"])
def test_overfits_four_scenes_and_finds_their_boxes(design):
    torch.manual_seed(0)
    scenes = [render_scene(index, size=128, seed=0) for index in range(4)]
    images = torch.stack([torch.from_numpy(s.image).permute(2, 0, 1).float() / 255 for s in scenes])
    targets = [{"boxes": torch.tensor([[x, y, x + w, y + h] for x, y, w, h in s.boxes], dtype=torch.float32).reshape(-1, 4),
                "labels": torch.tensor(s.labels, dtype=torch.long)} for s in scenes]
    assert sum(len(s.boxes) for s in scenes) >= 4
    model = CompactDetector(num_classes=4, **({} if design == "first" else COMPACT_OPTIONS))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    history = []
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: one thread is faster on a shared, loaded machine
    try:
        for _ in range(60):
            losses = model.loss(model(images), targets)
            optimizer.zero_grad()
            losses["loss"].backward()
            optimizer.step()
            history.append({k: float(v.detach()) for k, v in losses.items()})
    finally:
        torch.set_num_threads(threads)
    first, last = history[0], history[-1]
    assert last["loss"] < first["loss"] / 2  # centerness BCE keeps a floor (the targets' entropy)
    assert last["cls"] < first["cls"] / 15 and last["box"] < first["box"] / 2

    model.eval()
    found = 0
    for result, target in zip(model.predict(images, conf=0.2), targets):
        assert len(result["boxes"]) <= 100
        if len(target["boxes"]) == 0 or len(result["boxes"]) == 0:
            continue
        same_class = result["labels"][:, None] == target["labels"][None, :]
        overlap = box_iou(result["boxes"], target["boxes"]) * same_class
        found += int((overlap > 0.5).any(dim=0).sum())
    total = sum(len(t["boxes"]) for t in targets)
    assert found >= max(1, total // 2), f"found {found} of {total} ground-truth boxes"


def test_a_lean_head_has_no_normalisation_between_its_depthwise_and_pointwise_convs():
    first, lean = CompactDetector(num_classes=3), CompactDetector(num_classes=3, lean_head=True, out_kernel=1)
    for block in (*lean.smooth, *lean.cls_tower, *lean.reg_tower):
        assert isinstance(block.depthwise, torch.nn.Conv2d) and block.depthwise.groups == block.depthwise.in_channels
    assert isinstance(lean.stages[0][0].depthwise, torch.nn.Sequential)  # the backbone keeps its BN and ReLU
    norms = [sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) for model in (first, lean)]
    assert norms[1] == norms[0] - 7  # 3 smoothing blocks and 2 x 2 tower blocks
    assert lean.cls_out.kernel_size == (1, 1) and first.cls_out.kernel_size == (3, 3)
    images = torch.rand(2, 3, 96, 128)
    assert {k: v.shape for k, v in lean(images).items()} == {k: v.shape for k, v in first(images).items()}


@pytest.mark.parametrize("cls_loss", ["focal", "quality_focal"])
@pytest.mark.parametrize("quality", ["centerness", "iou"])
def test_loss_variants_are_finite_and_train_every_branch(cls_loss, quality):
    torch.manual_seed(0)
    model = CompactDetector(num_classes=4, cls_loss=cls_loss, quality=quality, box_weight=2.0)
    outputs = model(torch.rand(2, 3, 128, 128))
    targets = [{"boxes": torch.tensor([[10.0, 20.0, 60.0, 50.0]]), "labels": torch.tensor([2])},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}]
    losses = model.loss(outputs, targets)
    assert all(math.isfinite(float(v.detach())) and float(v.detach()) > 0 for v in losses.values())
    losses["loss"].backward()
    for layer in (model.cls_out, model.box_out, model.ctr_out):
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_quality_focal_loss_is_lowest_when_the_score_matches_the_iou():
    """The soft class target is the IoU of the predicted box with its ground truth: that score costs least."""
    model = CompactDetector(num_classes=1, cls_loss="quality_focal", quality="iou")
    shape = {s: (1, 1, 128 // s, 128 // s) for s in (8, 16, 32)}
    target = [{"boxes": torch.tensor([[65.0, 65.0, 71.0, 71.0]]), "labels": torch.tensor([0])}]  # 6 x 6 around (68, 68)
    costs = []
    for score in (0.05, 36 / 256, 0.5):  # a 16 x 16 box around (68, 68) has IoU 36 / 256 with it
        outputs = {}
        for s in (8, 16, 32):
            outputs[f"cls_s{s}"] = torch.full(shape[s], -10.0)
            outputs[f"box_s{s}"] = torch.full((1, 4, 128 // s, 128 // s), 8.0)
            outputs[f"ctr_s{s}"] = torch.zeros(shape[s])
        outputs["cls_s8"][0, 0, 8, 8] = math.log(score / (1 - score))  # the point (68, 68), the only positive
        costs.append(float(model.loss(outputs, target)["cls"]))
    low, right, high = costs
    assert right < low and right < high


def test_unknown_loss_options_are_refused():
    with pytest.raises(ValueError, match="cls_loss"):
        CompactDetector(num_classes=2, cls_loss="softmax")
    with pytest.raises(ValueError, match="quality"):
        CompactDetector(num_classes=2, quality="area")
