"""Classical segmentation baselines on tiny synthetic images whose answer is known: Otsu finds a disc brighter
or darker than its background (the polarity learned), fails on texture where the pixel classifier succeeds,
the classifier separates colours, ignored pixels never count, and everything repeats with the seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torchworks.errors import DataError
from torchworks.tasks.segmentation.baselines import (
    FEATURE_NAMES,
    PixelGBM,
    gbm_iterations,
    otsu_threshold,
    pixel_features,
    segmentation_baselines,
)

IGNORE = 255
BINARY = ["background", "lesion"]
SIZE = 32
# a few thousand pixels keep each fit well under a second on a shared 2-core machine
SMALL = {"max_train_pixels": 4000, "progress": False}


def _disc(rng: np.random.Generator) -> np.ndarray:
    """A disc of radius 7-10 px somewhere inside a SIZE x SIZE mask (bool)."""
    rows, cols = np.mgrid[:SIZE, :SIZE]
    centre_row, centre_col = rng.uniform(11, SIZE - 11, size=2)
    return (rows - centre_row) ** 2 + (cols - centre_col) ** 2 < rng.uniform(7, 10) ** 2


def _pair(grey: np.ndarray, mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    image = np.repeat(np.clip(grey, 0.0, 1.0)[None], 3, axis=0)
    return torch.tensor(image, dtype=torch.float32), torch.tensor(mask, dtype=torch.int64)


def _brightness_discs(n: int, seed: int, disc_level: float, background_level: float) -> list:
    """Discs of one grey level on a background of another, both with noise (sd 0.1)."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(n):
        disc = _disc(rng)
        grey = np.where(disc, disc_level, background_level) + 0.1 * rng.standard_normal((SIZE, SIZE))
        pairs.append(_pair(grey, disc.astype(np.int64)))
    return pairs


def _texture_discs(n: int, seed: int) -> list:
    """A rough disc (noise sd 0.25) on a smooth background (sd 0.02): both have mean grey 0.5."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(n):
        disc = _disc(rng)
        grey = 0.5 + np.where(disc, 0.25, 0.02) * rng.standard_normal((SIZE, SIZE))
        pairs.append(_pair(grey, disc.astype(np.int64)))
    return pairs


def _lesion_dice(scores: dict) -> float:
    return scores["per_class"]["lesion"]["dice"]


def test_otsu_threshold_splits_two_grey_levels_and_leaves_a_flat_image_whole():
    grey = np.array([0.2] * 50 + [0.8] * 30)
    threshold = otsu_threshold(grey)
    assert 0.2 < threshold <= 0.8
    assert np.sum(grey >= threshold) == 30
    assert otsu_threshold(np.full(10, 0.4)) == 1.0


@pytest.mark.parametrize(("disc", "background"), [(0.8, 0.2), (0.2, 0.8)], ids=["bright_disc", "dark_disc"])
def test_otsu_finds_a_disc_brighter_or_darker_than_its_background(disc, background):
    train = _brightness_discs(6, seed=0, disc_level=disc, background_level=background)
    test = _brightness_discs(4, seed=1, disc_level=disc, background_level=background)
    results = segmentation_baselines(train, test, BINARY, IGNORE, **SMALL)
    assert set(results) == {"otsu", "pixel_gbm"}
    assert _lesion_dice(results["otsu"]) > 0.9
    assert _lesion_dice(results["pixel_gbm"]) > 0.9
    assert results["otsu"]["seconds"] > 0


def test_texture_defeats_otsu_but_not_the_pixel_classifier():
    results = segmentation_baselines(_texture_discs(6, seed=0), _texture_discs(4, seed=1), BINARY, IGNORE, **SMALL)
    assert _lesion_dice(results["otsu"]) < 0.7
    assert _lesion_dice(results["pixel_gbm"]) > 0.85


def _colour_scenes(n: int, seed: int) -> list:
    """Grey background, a red square and a blue disc (classes 0, 1, 2) with colour noise."""
    rng = np.random.default_rng(seed)
    colours = np.array([[0.5, 0.5, 0.5], [0.8, 0.2, 0.2], [0.2, 0.3, 0.8]])
    pairs = []
    for _ in range(n):
        mask = np.zeros((SIZE, SIZE), dtype=np.int64)
        top, left = rng.integers(0, SIZE - 10, size=2)
        mask[top:top + 10, left:left + 10] = 1
        mask[_disc(rng)] = 2
        image = colours[mask].transpose(2, 0, 1) + 0.05 * rng.standard_normal((3, SIZE, SIZE))
        pairs.append((torch.tensor(np.clip(image, 0, 1), dtype=torch.float32), torch.tensor(mask)))
    return pairs


def test_pixel_classifier_separates_three_colours_and_otsu_is_not_run():
    labels = ["background", "red", "blue"]
    results = segmentation_baselines(_colour_scenes(6, seed=0), _colour_scenes(4, seed=1), labels, IGNORE, **SMALL)
    assert set(results) == {"pixel_gbm"}
    assert results["pixel_gbm"]["miou"] > 0.8
    assert set(results["pixel_gbm"]["per_class"]) == set(labels)


def _with_patch(pairs: list, patch_grey: float, patch_label: int) -> list:
    """The pairs with their top-left 6 x 6 corner painted ``patch_grey`` and labelled ``patch_label``."""
    changed = []
    for image, mask in pairs:
        image, mask = image.clone(), mask.clone()
        image[:, :6, :6] = patch_grey
        mask[:6, :6] = patch_label
        changed.append((image, mask))
    return changed


def test_ignored_pixels_count_for_nothing_even_where_the_prediction_is_wrong():
    train = _brightness_discs(6, seed=0, disc_level=0.8, background_level=0.2)
    test = _brightness_discs(4, seed=1, disc_level=0.8, background_level=0.2)  # the corner is background
    # a bright corner is predicted "lesion"; scored as background it is wrong and costs the lesion's Dice
    wrong = segmentation_baselines(train, _with_patch(test, 0.8, 0), BINARY, IGNORE, **SMALL)
    patched = _with_patch(test, 0.8, IGNORE)
    ignored_wrong = segmentation_baselines(train, patched, BINARY, IGNORE, **SMALL)
    ignored_right = segmentation_baselines(train, _with_patch(test, 0.2, IGNORE), BINARY, IGNORE, **SMALL)
    assert _lesion_dice(wrong["otsu"]) < 0.95
    assert _lesion_dice(ignored_wrong["otsu"]) > 0.98
    for name in ("otsu", "pixel_gbm"):
        for label, name_of_class in enumerate(BINARY):
            counted = sum(int((mask == label).sum()) for _, mask in patched)
            assert ignored_wrong[name]["per_class"][name_of_class]["pixels"] == counted
    # the same scores whether the model is right or wrong inside the ignored corner (Otsu only: the corner
    # also changes the pixel classifier's window features of its neighbours, which are scored)
    assert _scores(ignored_wrong["otsu"]) == _scores(ignored_right["otsu"])


def test_images_of_different_sizes_are_scored_pixel_for_pixel():
    train = _brightness_discs(6, seed=0, disc_level=0.8, background_level=0.2)
    test = [(image[:, :, :20 + 3 * i], mask[:, :20 + 3 * i])
            for i, (image, mask) in enumerate(_brightness_discs(4, seed=1, disc_level=0.8, background_level=0.2))]
    results = segmentation_baselines(train, test, BINARY, IGNORE, **SMALL)
    for scores in results.values():
        assert sum(row["pixels"] for row in scores["per_class"].values()) == SIZE * (20 + 23 + 26 + 29)
        assert scores["miou"] > 0.9


def test_training_masks_without_a_labelled_pixel_are_refused():
    train = [(image, torch.full_like(mask, IGNORE)) for image, mask in _brightness_discs(2, 0, 0.8, 0.2)]
    with pytest.raises(DataError, match="no labelled training pixel"):
        segmentation_baselines(train, train, BINARY, IGNORE, **SMALL)


def _scores(result: dict) -> dict:
    return {key: value for key, value in result.items() if key != "seconds"}


def test_same_seed_same_scores():
    train, test = _texture_discs(6, seed=0), _texture_discs(4, seed=1)
    first = segmentation_baselines(train, test, BINARY, IGNORE, seed=3, **SMALL)
    second = segmentation_baselines(train, test, BINARY, IGNORE, seed=3, **SMALL)
    assert {name: _scores(r) for name, r in first.items()} == {name: _scores(r) for name, r in second.items()}


def test_sample_takes_an_equal_share_per_class_and_never_an_ignored_pixel():
    gbm = PixelGBM(n_classes=3, max_train_pixels=300, seed=0)
    for image, mask in _colour_scenes(3, seed=0):
        mask[mask == 1] = IGNORE  # class 1 exists only as ignored pixels
        mask[0, :3] = 1  # ... except for three labelled ones
        gbm.add(image.numpy(), mask.numpy(), (mask < 3).numpy())
    x, y = gbm.training_sample()
    assert x.shape == (len(y), len(FEATURE_NAMES))
    assert np.bincount(y, minlength=3).tolist() == [100, 9, 100]  # the small class is seen in full


def test_features_and_rounds():
    image = np.random.default_rng(0).random((3, 5, 7)).astype(np.float32)
    features = pixel_features(image)
    assert features.shape == (35, len(FEATURE_NAMES)) and features.dtype == np.float32
    assert features[-1, FEATURE_NAMES.index("row")] == 1.0 and features[6, FEATURE_NAMES.index("column")] == 1.0
    assert np.all(features[:, FEATURE_NAMES.index("std_3")] >= 0)
    assert [gbm_iterations(n) for n in (2, 3, 4, 30)] == [100, 100, 75, 25]
