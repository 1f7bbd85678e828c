"""Stratified, seeded train/val/test splits that respect splits fixed by the data source."""

from __future__ import annotations

import random
from collections import defaultdict

from torchworks.errors import DataError


def assign_splits(
    labels: list[str], fixed: list[str | None], val_fraction: float, test_fraction: float, seed: int
) -> list[str]:
    """A split name per item. Items the source placed keep their split; a missing val or test
    split is carved out of train, stratified by class."""
    splits = [s if s is not None else "train" for s in fixed]
    present = set(splits)
    carve = []
    if "test" not in present:
        carve.append(("test", test_fraction))
    if "val" not in present:
        carve.append(("val", val_fraction))
    if not carve:
        return splits
    by_class: dict[str, list[int]] = defaultdict(list)
    for index, (label, split) in enumerate(zip(labels, splits)):
        if split == "train":
            by_class[label].append(index)
    rng = random.Random(seed)
    for label in sorted(by_class):
        members = by_class[label]
        if len(members) < 1 + len(carve):
            raise DataError(
                f"class '{label}' has only {len(members)} training image(s)",
                expected=f"at least {1 + len(carve)} to hold some out for " + " and ".join(n for n, _ in carve),
                got=f"{len(members)}",
                hint="add images to that class, or provide val/ and test/ folders",
            )
        rng.shuffle(members)
        start = 0
        for position, (name, fraction) in enumerate(carve):
            still_to_carve = len(carve) - position - 1
            count = max(1, round(len(members) * fraction))
            count = min(count, len(members) - start - 1 - still_to_carve)
            for index in members[start:start + count]:
                splits[index] = name
            start += count
    return splits
