"""Segmentation losses on logits ``[B, C, H, W]`` and targets ``[B, H, W]`` (class indices, or
``ignore_index`` for pixels that count for nothing): cross-entropy, soft Dice, focal, and the default
cross-entropy plus Dice.

Cross-entropy learns every pixel; Dice weighs each class by its overlap, not its pixel count, so a
small lesion or a thin pole matters as much as the road around it. Their sum trains stably from the
first step (Dice alone is slow to start) and keeps small classes from vanishing (cross-entropy alone
favours the large ones). Class weights (``class_weights=auto``) scale the cross-entropy and focal terms.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

LOSSES = ("ce_dice", "ce", "dice", "focal")
DICE_SMOOTH = 1.0  # keeps a class absent from a batch (and rightly never predicted) at a loss near 0
FOCAL_GAMMA = 2.0


def segmentation_loss(logits: torch.Tensor, targets: torch.Tensor, *, kind: str = "ce_dice",
                      ignore_index: int = 255, class_weights: Sequence[float] | None = None) -> torch.Tensor:
    """The loss ``kind`` (one of :data:`LOSSES`) of a batch, a scalar.

    Raises:
        ValueError: An unknown ``kind``.
    """
    weight = torch.as_tensor(class_weights, dtype=logits.dtype, device=logits.device) if class_weights else None
    if kind == "ce":
        return F.cross_entropy(logits, targets, weight=weight, ignore_index=ignore_index)
    if kind == "dice":
        return dice_loss(logits, targets, ignore_index)
    if kind == "focal":
        return focal_loss(logits, targets, ignore_index, weight)
    if kind == "ce_dice":
        return F.cross_entropy(logits, targets, weight=weight, ignore_index=ignore_index) \
            + dice_loss(logits, targets, ignore_index)
    raise ValueError(f"unknown segmentation loss {kind!r}; expected one of {', '.join(LOSSES)}")


def dice_loss(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = 255) -> torch.Tensor:
    """``1 -`` the soft Dice of the softmax probabilities, per class over the whole batch, averaged over
    classes; ignored pixels are left out of both the probabilities and the targets."""
    classes = logits.shape[1]
    counted = targets != ignore_index
    probabilities = logits.float().softmax(dim=1) * counted.unsqueeze(1)
    one_hot = F.one_hot(torch.where(counted, targets, 0), classes).permute(0, 3, 1, 2).to(probabilities.dtype)
    one_hot = one_hot * counted.unsqueeze(1)
    dims = (0, 2, 3)
    overlap = (probabilities * one_hot).sum(dims)
    total = probabilities.sum(dims) + one_hot.sum(dims)
    return 1.0 - ((2.0 * overlap + DICE_SMOOTH) / (total + DICE_SMOOTH)).mean()


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = 255,
               weight: torch.Tensor | None = None, gamma: float = FOCAL_GAMMA) -> torch.Tensor:
    """Cross-entropy scaled by ``(1 - p_true) ** gamma`` per pixel, so pixels already right count less;
    the mean over counted pixels (weighted by their class's weight when given)."""
    per_pixel = F.cross_entropy(logits, targets, weight=weight, ignore_index=ignore_index, reduction="none")
    counted = targets != ignore_index
    log_p = -F.cross_entropy(logits, targets, ignore_index=ignore_index, reduction="none")
    scaled = (1.0 - log_p.exp()).pow(gamma) * per_pixel
    if weight is not None:
        norm = weight[torch.where(counted, targets, 0)][counted].sum()
    else:
        norm = counted.sum()
    return scaled[counted].sum() / norm.clamp(min=1)


def auto_class_weights(train_pixels: Sequence[int]) -> list[float]:
    """Cross-entropy weights from training pixel counts: the inverse square root of each class's share,
    scaled to a pixel-weighted mean of 1 (a class never seen gets the largest weight of those seen)."""
    counts = torch.as_tensor(list(train_pixels), dtype=torch.float64)
    seen = counts > 0
    if not seen.any():
        return [1.0] * len(counts)
    share = counts / counts.sum()
    weights = torch.where(seen, share.clamp(min=1e-12).rsqrt(), torch.zeros_like(share))
    weights[~seen] = weights[seen].max()
    weights = weights / (weights * share).sum()
    return [round(float(w), 6) for w in weights]
