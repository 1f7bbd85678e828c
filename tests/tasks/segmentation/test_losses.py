"""Segmentation losses: ignored pixels never count, a perfect answer costs nearly nothing, Dice treats a
small class like a large one, and auto class weights favour rare classes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from torchworks.tasks.segmentation.losses import auto_class_weights, dice_loss, focal_loss, segmentation_loss


def _logits_for(classes: torch.Tensor, count: int, confidence: float = 20.0) -> torch.Tensor:
    return F.one_hot(classes, count).permute(0, 3, 1, 2).float() * confidence


def test_a_perfect_answer_costs_almost_nothing_and_a_wrong_one_costs_more():
    target = torch.randint(0, 3, (2, 8, 8), generator=torch.Generator().manual_seed(0))
    for kind in ("ce_dice", "ce", "dice", "focal"):
        right = segmentation_loss(_logits_for(target, 3), target, kind=kind)
        wrong = segmentation_loss(_logits_for((target + 1) % 3, 3), target, kind=kind)
        assert float(right) < 1e-3 < float(wrong), kind


def test_ignored_pixels_change_nothing_whatever_the_model_says_there():
    target = torch.zeros(1, 4, 4, dtype=torch.long)
    target[0, :2] = 1
    logits = _logits_for(target, 2, confidence=3.0)
    ignored = target.clone()
    ignored[0, 0, 0] = 255
    flipped = logits.clone()
    flipped[0, :, 0, 0] = torch.tensor([30.0, -30.0])  # badly wrong, but on an ignored pixel
    for kind in ("ce_dice", "ce", "dice", "focal"):
        base = segmentation_loss(logits, ignored, kind=kind, ignore_index=255)
        assert float(segmentation_loss(flipped, ignored, kind=kind, ignore_index=255)) == pytest.approx(float(base))


def test_dice_weighs_a_small_class_like_a_large_one():
    """Missing a 4-pixel lesion costs cross-entropy little but Dice half its range."""
    target = torch.zeros(1, 16, 16, dtype=torch.long)
    target[0, :2, :2] = 1
    missed = _logits_for(torch.zeros_like(target), 2)
    assert float(F.cross_entropy(missed, target)) < 0.4
    assert float(dice_loss(missed, target)) > 0.4


def test_focal_loss_counts_easy_pixels_less_than_cross_entropy():
    target = torch.zeros(1, 4, 4, dtype=torch.long)
    easy = _logits_for(target, 2, confidence=2.0)
    assert float(focal_loss(easy, target)) < 0.2 * float(F.cross_entropy(easy, target))


def test_auto_class_weights_favour_rare_classes_with_pixel_weighted_mean_one():
    weights = auto_class_weights([900, 100, 0])
    assert weights[1] == pytest.approx(3 * weights[0], rel=1e-4)  # inverse square root of the share
    assert weights[2] == weights[1]  # never seen: the largest seen weight
    assert 0.9 * weights[0] + 0.1 * weights[1] == pytest.approx(1.0, rel=1e-4)
    target = torch.tensor([[[0, 1]]])
    weighted = segmentation_loss(torch.zeros(1, 3, 1, 2), target, kind="ce", class_weights=weights)
    assert float(weighted) == pytest.approx(float(torch.log(torch.tensor(3.0))), rel=1e-4)


def test_an_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="unknown segmentation loss"):
        segmentation_loss(torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long), kind="lovasz")
