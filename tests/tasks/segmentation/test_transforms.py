"""Augmentation keeps image and mask aligned: a mask drawn from the image's own pixels still matches them
after random scales, crops and flips; padding is ignored; colour touches the image alone."""

from __future__ import annotations

import pytest
import torch
from torchvision import tv_tensors

from torchworks.tasks.segmentation.transforms import RandomScale, crop_transform, eval_transform, train_transform

IGNORE = 255


def pair(height: int = 12, width: int = 16, seed: int = 0) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
    """A random mask of classes 0..4 and an image whose red channel is 50 x the class (green and blue
    encode the position, so any misplacement shows)."""
    generator = torch.Generator().manual_seed(seed)
    mask = torch.randint(0, 5, (height, width), generator=generator)
    image = torch.stack([mask * 50, torch.arange(height)[:, None].expand(height, width),
                         torch.arange(width)[None, :].expand(height, width)]).to(torch.uint8)
    return tv_tensors.Image(image), tv_tensors.Mask(mask)


def check_aligned(image: torch.Tensor, mask: torch.Tensor) -> None:
    red = torch.round(image[0] * 255).long()
    ignored = mask == IGNORE
    assert torch.equal(red[~ignored], mask[~ignored] * 50)
    assert (image[:, ignored] == 0).all()  # padding: black image, ignored mask


@pytest.mark.parametrize("seed", range(6))
def test_crops_and_flips_keep_the_mask_on_its_pixels(seed):
    torch.manual_seed(seed)
    transform = train_transform(20, IGNORE, hflip=0.5, vflip=0.5, scale=0.0, color=0.0)
    image, mask = transform(*pair(12, 26, seed))
    assert image.shape == (3, 20, 20) and image.dtype == torch.float32 and mask.shape == (20, 20)
    assert mask.dtype == torch.int64 and type(image) is torch.Tensor and type(mask) is torch.Tensor
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    check_aligned(image, mask)
    assert (mask == IGNORE).any() and (mask != IGNORE).any()  # 12 rows padded to 20, some of 26 columns kept


def test_flips_flip_both():
    image, mask = pair(8, 8)
    flipped_image, flipped_mask = train_transform(8, IGNORE, hflip=1.0, vflip=1.0, scale=0.0, color=0.0)(image, mask)
    assert torch.equal(flipped_mask, mask.flip(0, 1).as_subclass(torch.Tensor))
    assert torch.equal(torch.round(flipped_image * 255).to(torch.uint8), image.flip(1, 2).as_subclass(torch.Tensor))


def test_scaling_resizes_the_mask_by_nearest_neighbour_in_step_with_the_image():
    mask = torch.zeros(32, 32, dtype=torch.int64)
    mask[:16, 16:], mask[16:, :16], mask[16:, 16:] = 1, 2, 3  # four blocks, so edges are few
    image = tv_tensors.Image((mask * 60).to(torch.uint8).expand(3, 32, 32).clone())
    for seed in range(5):
        torch.manual_seed(seed)
        out_image, out_mask = train_transform(24, IGNORE, hflip=0.5, scale=0.5, color=0.0)(image,
                                                                                          tv_tensors.Mask(mask))
        assert set(out_mask.unique().tolist()) <= {0, 1, 2, 3, IGNORE}  # no value between classes
        red = torch.round(out_image[0] * 255).long()
        inner = torch.zeros_like(out_mask, dtype=torch.bool)  # pixels whose 3x3 neighbourhood is one class
        window = out_mask.unfold(0, 3, 1).unfold(1, 3, 1).reshape(22, 22, 9)
        inner[1:-1, 1:-1] = (window == window[..., :1]).all(-1) & (window[..., 0] != IGNORE)
        assert inner.sum() > 100 and torch.equal(red[inner], out_mask[inner] * 60)


def test_the_random_scale_factor_stays_in_its_range():
    scale = RandomScale(0.5, 1.5)
    for _ in range(20):
        out = scale(tv_tensors.Image(torch.zeros(3, 20, 40, dtype=torch.uint8)))
        assert 10 <= out.shape[1] <= 30 and 20 <= out.shape[2] <= 60
    with pytest.raises(ValueError):
        RandomScale(0.0, 1.0)


def test_colour_jitter_changes_the_image_and_leaves_the_mask_alone():
    image, mask = pair(16, 16)
    torch.manual_seed(3)
    plain_image, plain_mask = train_transform(16, IGNORE, hflip=0.5, scale=0.2, color=0.0)(image, mask)
    torch.manual_seed(3)  # colour comes after geometry, so the geometry draws are the same
    coloured_image, coloured_mask = train_transform(16, IGNORE, hflip=0.5, scale=0.2, color=1.0)(image, mask)
    assert torch.equal(plain_mask, coloured_mask) and not torch.equal(plain_image, coloured_image)


def test_the_same_seed_gives_the_same_augmentation():
    image, mask = pair(30, 30)
    outputs = []
    for _ in range(2):
        torch.manual_seed(11)
        outputs.append(train_transform(16, IGNORE, vflip=0.5, scale=0.3)(image, mask))
    assert torch.equal(outputs[0][0], outputs[1][0]) and torch.equal(outputs[0][1], outputs[1][1])


def test_evaluation_sees_the_whole_image_and_training_without_augment_only_crops():
    image, mask = pair(12, 30)
    whole_image, whole_mask = eval_transform()(image, mask)
    assert whole_image.shape == (3, 12, 30) and torch.equal(whole_mask, mask.as_subclass(torch.Tensor))
    assert torch.allclose(whole_image * 255, image.float())
    torch.manual_seed(0)
    cropped_image, cropped_mask = crop_transform(16, IGNORE)(image, mask)
    assert cropped_image.shape == (3, 16, 16)
    check_aligned(cropped_image, cropped_mask)
