"""The street scenes: empty images, sizes, occlusion, colours, and boxes and masks that sit on drawn objects."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from torchworks.scenes.street import CLASSES, render_scene


@pytest.fixture(scope="module")
def moderate() -> list:
    return [render_scene(index, size=320, seed=0, keep_background=True) for index in range(60)]


def test_empty_images_sizes_and_classes(moderate: list) -> None:
    empty = sum(not scene.boxes for scene in moderate)
    assert 0.04 <= empty / len(moderate) <= 0.2
    areas = [w * h for scene in moderate for _, _, w, h in scene.boxes]
    kinds = Counter("small" if a < 32 ** 2 else "medium" if a < 96 ** 2 else "large" for a in areas)
    assert all(kinds[k] >= 0.05 * len(areas) for k in ("small", "medium", "large")), kinds
    labels = Counter(label for scene in moderate for label in scene.labels)
    assert set(labels) == set(range(len(CLASSES)))
    assert any(v < 1.0 for scene in moderate for v in scene.visibility)  # occlusion happens
    assert max(len(scene.boxes) for scene in moderate) >= 5


def test_boxes_cover_drawn_pixels(moderate: list) -> None:
    for scene in moderate:
        changed = np.abs(scene.image.astype(int) - scene.background.astype(int)).max(axis=-1) > 0
        for (x, y, w, h), visible in zip(scene.boxes, scene.visibility):
            inside = changed[y:y + h, x:x + w]
            assert inside.mean() > 0.25, (x, y, w, h)
            if visible == 1.0:  # nothing in front: the object reaches every side of its box
                assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
        # outside every box and clutter, the image is the background
        if not scene.boxes:
            assert changed.mean() < 0.6


def test_the_same_class_comes_in_many_colours(moderate: list) -> None:
    """Colour alone must not tell the classes apart: the mean colours of one class spread widely."""
    spread = {}
    for label in range(len(CLASSES)):
        means = [scene.image[y:y + h, x:x + w].reshape(-1, 3).mean(axis=0)
                 for scene in moderate for (x, y, w, h), lab in zip(scene.boxes, scene.labels) if lab == label]
        spread[CLASSES[label]] = float(np.std(means, axis=0).mean())
    assert all(value > 15 for value in spread.values()), spread


def test_the_mask_marks_each_object_inside_its_box_with_its_class(moderate: list) -> None:
    for scene in moderate:
        assert scene.mask.shape == scene.image.shape[:2] and scene.mask.dtype == np.uint8
        assert set(np.unique(scene.mask).tolist()) <= {0, *(label + 1 for label in scene.labels)}
        inside_a_box = np.zeros_like(scene.mask, dtype=bool)
        for (x, y, w, h), label in zip(scene.boxes, scene.labels):
            assert (scene.mask[y:y + h, x:x + w] == label + 1).any()  # every object shows in the mask
            inside_a_box[y:y + h, x:x + w] |= scene.mask[y:y + h, x:x + w] == label + 1
        assert np.array_equal(inside_a_box, scene.mask > 0)  # and no class pixel lies outside its boxes
        changed = np.abs(scene.image.astype(int) - scene.background.astype(int)).max(axis=-1) > 0
        if scene.boxes:
            assert changed[scene.mask > 0].mean() > 0.9  # object pixels are drawn pixels

