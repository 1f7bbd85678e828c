"""Segmentation scores against hand-counted pixels: ignored pixels never count, absent classes are left out
of the means, background is counted or not."""

from __future__ import annotations

import math

import pytest
import torch

from torchworks.tasks.segmentation.metrics import PixelConfusion, ValidationMIoU, segmentation_scores

LABELS = ["background", "road", "car", "sign"]
IGNORE = 255


def _fixture() -> tuple[torch.Tensor, torch.Tensor]:
    # 2 images of 2 x 4 pixels; 255 marks ignored pixels (the model's answer there must not matter)
    target = torch.tensor([[[0, 0, 1, 1], [1, 2, 255, 255]],
                           [[0, 0, 0, 2], [2, 2, 255, 0]]])
    predicted = torch.tensor([[[0, 1, 1, 1], [1, 2, 3, 0]],
                              [[0, 0, 2, 2], [2, 0, 1, 0]]])
    return predicted, target


def test_scores_match_hand_counts_and_ignored_pixels_never_count():
    predicted, target = _fixture()
    metric = PixelConfusion(LABELS, IGNORE)
    metric.update(predicted, target)
    scores = metric.compute()
    # counted pixels (13): background true 6 (4 right; 1 as road, 1 as car), road true 3 (all right),
    # car true 4 (3 right, 1 as background); sign true 0 and never predicted where counted
    iou = {"background": 4 / (6 + 5 - 4), "road": 3 / (3 + 4 - 3), "car": 3 / (4 + 4 - 3)}
    dice = {"background": 8 / 11, "road": 6 / 7, "car": 6 / 8}
    for name in iou:
        assert scores["per_class"][name]["iou"] == pytest.approx(iou[name])
        assert scores["per_class"][name]["dice"] == pytest.approx(dice[name])
    assert scores["per_class"]["sign"] == {"iou": None, "dice": None, "precision": None, "recall": None, "pixels": 0}
    assert scores["miou"] == pytest.approx(sum(iou.values()) / 3)  # sign is absent: left out of the mean
    assert scores["dice"] == pytest.approx(sum(dice.values()) / 3)
    assert scores["pixel_accuracy"] == pytest.approx(10 / 13)
    assert scores["fw_iou"] == pytest.approx(6 / 13 * iou["background"] + 3 / 13 * iou["road"] + 4 / 13 * iou["car"])
    assert scores["per_class"]["car"]["precision"] == pytest.approx(3 / 4)
    assert scores["per_class"]["background"]["recall"] == pytest.approx(4 / 6)


def test_logits_and_indices_give_the_same_matrix_and_background_can_be_left_out():
    predicted, target = _fixture()
    logits = torch.nn.functional.one_hot(predicted, len(LABELS)).permute(0, 3, 1, 2).float()
    a, b = PixelConfusion(LABELS, IGNORE), PixelConfusion(LABELS, IGNORE, include_background=False)
    a.update(logits, target)
    b.update(predicted[:1], target[:1])
    b.update(predicted[1:], target[1:])  # streaming over batches sums the same matrix
    assert torch.equal(a.confusion, b.confusion)
    full, without = a.compute(), b.compute()
    assert without["miou"] == pytest.approx((full["per_class"]["road"]["iou"] + full["per_class"]["car"]["iou"]) / 2)
    assert without["pixel_accuracy"] == full["pixel_accuracy"]


def test_a_class_predicted_but_absent_counts_as_zero_iou():
    confusion = torch.tensor([[5, 1], [0, 0]])  # class 1 never true, predicted once
    scores = segmentation_scores(confusion, ["background", "lesion"])
    assert scores["per_class"]["lesion"]["iou"] == 0.0 and scores["miou"] == pytest.approx((5 / 6 + 0) / 2)
    assert math.isclose(segmentation_scores(torch.zeros(2, 2), ["a", "b"])["miou"], 0.0)


def test_the_validation_metric_is_the_miou():
    predicted, target = _fixture()
    metric = ValidationMIoU(LABELS, IGNORE)
    metric.update(predicted, target)
    full = PixelConfusion(LABELS, IGNORE)
    full.update(predicted, target)
    assert float(metric.compute()) == pytest.approx(full.compute()["miou"])
