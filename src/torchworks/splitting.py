"""Stratified, seeded train/val/test splits that respect splits fixed by the data source."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Literal

from torchworks.errors import DataError


def assign_splits(
    labels: Sequence[str],
    fixed: Sequence[str | None],
    val_fraction: float,
    test_fraction: float,
    seed: int,
    *,
    groups: Sequence[Hashable] | None = None,
    noun: str = "image",
    rare: Literal["error", "train"] = "error",
) -> list[str]:
    """A split name per item. Items the source placed keep their split; a missing val or test
    split is carved out of train, stratified by label.

    Args:
        labels: The stratum of each item (its class).
        fixed: The split the source gave each item, or None.
        groups: Items with the same group always share a split (duplicate texts, one patient's
            images), so that no copy of a test item is trained on. Default: every item on its own.
        noun: What an item is, for messages.
        rare: What to do with a class too small to hold items out: "error", or "train" (keep it in
            training only; the caller reports it).
    """
    splits = [s if s is not None else "train" for s in fixed]
    present = set(splits)
    carve = [(name, fraction) for name, fraction in (("test", test_fraction), ("val", val_fraction))
             if name not in present]
    if not carve:
        return splits
    members_of: dict[Hashable, list[int]] = defaultdict(list)
    for index, split in enumerate(splits):
        if split == "train":
            members_of[groups[index] if groups is not None else index].append(index)
    by_class: dict[str, list[Hashable]] = defaultdict(list)
    for group, members in members_of.items():
        by_class[labels[members[0]]].append(group)
    rng = random.Random(seed)
    for label in sorted(by_class):
        units = by_class[label]
        if len(units) < 1 + len(carve):
            if rare == "train":
                continue
            raise DataError(
                f"class '{label}' has only {len(units)} training {noun}(s)",
                expected=f"at least {1 + len(carve)} to hold some out for " + " and ".join(n for n, _ in carve),
                got=f"{len(units)}",
                hint=f"add {noun}s to that class, or give the val and test splits yourself (val/ and test/ "
                "folders, or a split column)",
            )
        rng.shuffle(units)
        start = 0
        for position, (name, fraction) in enumerate(carve):
            still_to_carve = len(carve) - position - 1
            count = max(1, round(len(units) * fraction))
            count = min(count, len(units) - start - 1 - still_to_carve)
            for group in units[start:start + count]:
                for index in members_of[group]:
                    splits[index] = name
            start += count
    return splits
