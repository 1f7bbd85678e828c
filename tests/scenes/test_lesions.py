"""The lesion scans: determinism, binary masks on the drawn lesions, lesion sizes and empties, and that Otsu fails."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from torchworks.scenes.lesions import render_lesion_scan

SIZE = 128


@pytest.fixture(scope="module")
def scans() -> list:
    return [render_lesion_scan(index, size=SIZE, seed=0) for index in range(40)]


def otsu_threshold(grey: np.ndarray) -> int:
    """The grey level that maximises the between-class variance (pixels above it are one class)."""
    share = np.bincount(grey.ravel(), minlength=256) / grey.size
    below = np.cumsum(share)
    mean_below = np.cumsum(share * np.arange(256))
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean_below[-1] * below - mean_below) ** 2 / (below * (1 - below))
    return int(np.nanargmax(between))


def dice(found: np.ndarray, truth: np.ndarray) -> float:
    return 2 * float((found & truth).sum()) / max(1, int(found.sum() + truth.sum()))


def test_same_arguments_same_pixels_and_a_scan_depends_only_on_seed_index_and_size() -> None:
    first = render_lesion_scan(5, size=96, seed=3)
    render_lesion_scan(4, size=96, seed=3)  # drawing another scan in between changes nothing
    again = render_lesion_scan(5, size=96, seed=3)
    assert first.image.tobytes() == again.image.tobytes() and first.mask.tobytes() == again.mask.tobytes()
    other_seed = render_lesion_scan(5, size=96, seed=4)
    assert np.abs(first.image.astype(int) - other_seed.image.astype(int)).mean() > 5
    other_index = render_lesion_scan(6, size=96, seed=3)
    assert not np.array_equal(first.image, other_index.image)


def test_images_are_grey_and_masks_binary_and_the_same_size(scans: list) -> None:
    for scan in scans:
        assert scan.image.shape == (SIZE, SIZE, 3) and scan.image.dtype == np.uint8
        assert scan.mask.shape == (SIZE, SIZE) and scan.mask.dtype == np.uint8
        assert set(np.unique(scan.mask)) <= {0, 1}
        assert (scan.image[..., 0] == scan.image[..., 1]).all() and (scan.image[..., 0] == scan.image[..., 2]).all()
        assert scan.image.std() > 10  # a picture, not a flat field
    assert render_lesion_scan(0, size=64).image.shape == (64, 64, 3)


def test_lesion_counts_sizes_and_contrasts_vary_and_some_scans_are_empty(scans: list) -> None:
    counts = [len(scan.radii) for scan in scans]
    assert max(counts) <= 4 and min(counts) == 0
    assert 0.05 <= counts.count(0) / len(scans) <= 0.35
    for scan, count in zip(scans, counts):
        assert scan.mask.any() == (count > 0)
    radii = [r for scan in scans for r in scan.radii]
    assert min(radii) < 2.0 * SIZE / 192 and max(radii) > 20 * SIZE / 192  # a few pixels across to a large blob
    areas = [int(scan.mask.sum()) for scan in scans if len(scan.radii) == 1]
    assert min(areas) <= 12 and max(areas) >= 300, areas
    contrasts = [c for scan in scans for c in scan.contrasts]
    assert min(contrasts) < -0.1 and max(contrasts) > 0.1  # darker and brighter than the tissue
    assert any(abs(c) < 0.09 for c in contrasts)  # and some faint


def test_the_mask_sits_on_the_drawn_lesion(scans: list) -> None:
    checked = 0
    for scan in scans:
        signs = {np.sign(c) for c in scan.contrasts}
        if len(signs) != 1 or min(scan.radii) < 3 or min(abs(c) for c in scan.contrasts) < 0.1:
            continue  # a clear case: lesions of one polarity, none tiny or faint
        lesion = scan.mask.astype(bool)
        ring = ndimage.binary_dilation(lesion, iterations=4) & ~ndimage.binary_dilation(lesion, iterations=1)
        grey = scan.image[..., 0].astype(float)
        step = grey[lesion].mean() - grey[ring].mean()
        assert np.sign(step) == signs.pop() and abs(step) > 8, (step, scan.contrasts)
        checked += 1
    assert checked >= 3


def test_a_global_threshold_does_not_find_the_lesions(scans: list) -> None:
    otsu, best = [], []
    for scan in scans:
        truth = scan.mask.astype(bool)
        if not truth.any():
            continue
        grey = scan.image[..., 0]
        level = otsu_threshold(grey)
        otsu.append(max(dice(grey > level, truth), dice(grey <= level, truth)))  # either polarity, in its favour
        # the best single threshold for this very image, chosen knowing the answer
        above_all = np.cumsum(np.bincount(grey.ravel(), minlength=256)[::-1])[::-1]
        above_hit = np.cumsum(np.bincount(grey[truth], minlength=256)[::-1])[::-1]
        lesion = truth.sum()
        bright = 2 * above_hit / (above_all + lesion)
        dark = 2 * (lesion - above_hit) / (grey.size - above_all + lesion)
        best.append(max(bright.max(), dark.max()))
    assert len(otsu) >= 25
    assert np.mean(otsu) < 0.35, np.mean(otsu)
    assert np.mean(best) < 0.6, np.mean(best)  # intensity alone does not tell lesions from tissue and decoys
