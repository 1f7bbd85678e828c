"""Train, validation and test images: the splits the data came with, the missing ones carved out of train.

An image holds boxes of several classes, so it is stratified by the rarest class it holds (counted in
images over the whole data): the images of a rare class are then spread over the splits first, and the
common classes follow along. Images without boxes form a stratum of their own, so negatives reach every
split too. A class with too few images to hold some out stays in training only (every split then has
objects of every class where the data allows it). The carving itself is the project's seeded,
stratified :func:`~torchworks.splitting.assign_splits`, the same as the other tasks use.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

from torchworks.errors import ConfigError, DataError
from torchworks.splitting import assign_splits
from torchworks.tasks.object_detection.annotations import DetectionData, DetectionImage

NEGATIVE = "(no boxes)"  # the stratum of images without any box
SPLIT_NAMES = ("train", "val", "test")


class SplitImages(NamedTuple):
    train: list[DetectionImage]
    val: list[DetectionImage]
    test: list[DetectionImage]


def split_images(data: DetectionData, val_fraction: float = 0.1, test_fraction: float = 0.1,
                 seed: int = 0) -> SplitImages:
    """The images of ``data`` as train/val/test, each list in the order the data gave them.

    Unsplit data (one ``all`` list) is split by ``seed``; pre-split data keeps its splits, and a missing
    val or test split is carved out of train with the fractions (a data set with only train and val
    gets a test split carved from train, so that validation, used to pick the best epoch, and the
    reported test numbers stay apart).

    Raises:
        ConfigError: Fractions outside [0, 1) or adding up to 1 or more.
        DataError: No training image is left.
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise ConfigError(f"{name}={value} is out of range", expected="a fraction in [0, 1)", got=str(value))
    if val_fraction + test_fraction >= 1:
        raise ConfigError("val_fraction + test_fraction leave nothing to train on", expected="a sum below 1",
                          got=f"{val_fraction} + {test_fraction}")
    images: list[DetectionImage] = []
    fixed: list[str | None] = []
    for split, items in data.splits.items():
        images.extend(items)
        fixed.extend([None if split == "all" else split] * len(items))
    strata = strata_of(images)
    assigned = assign_splits(strata, fixed, val_fraction, test_fraction, seed, rare="train")
    result = SplitImages([], [], [])
    for image, split in zip(images, assigned):
        getattr(result, split).append(image)
    if not result.train:
        raise DataError("no training images", expected="a train split with at least one image",
                        got=", ".join(f"{name} {len(items)}" for name, items in data.splits.items()) or "no images",
                        hint="give the data a train split, or point data= at unsplit data to split it by seed")
    return result


def strata_of(images: list[DetectionImage]) -> list[str]:
    """The stratum of each image: its rarest class (ties to the lower class index), or :data:`NEGATIVE`."""
    frequency = Counter(label for image in images for label in {int(x) for x in image.labels})
    strata = []
    for image in images:
        present = sorted({int(x) for x in image.labels})
        if not present:
            strata.append(NEGATIVE)
        else:
            rarest = min(present, key=lambda label: (frequency[label], label))
            strata.append(f"class {rarest}")
    return strata


def class_coverage(images: list[DetectionImage], n_classes: int) -> list[int]:
    """How many boxes of each class ``images`` hold (for reports and for checks that a split covers all)."""
    counts = [0] * n_classes
    for image in images:
        for label in image.labels:
            counts[int(label)] += 1
    return counts
