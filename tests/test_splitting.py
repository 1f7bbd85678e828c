"""Seeded, stratified splits that keep the splits a source fixed."""

from __future__ import annotations

from collections import Counter

import pytest

from torchworks.errors import DataError
from torchworks.splitting import assign_splits


def _labels(per_class: dict[str, int]) -> list[str]:
    return [label for label, n in per_class.items() for _ in range(n)]


def test_val_and_test_are_carved_per_class():
    labels = _labels({"a": 20, "b": 40})
    splits = assign_splits(labels, [None] * len(labels), 0.15, 0.25, seed=0)
    counts = Counter(zip(labels, splits))
    assert counts[("a", "test")] == 5 and counts[("a", "val")] == 3 and counts[("a", "train")] == 12
    assert counts[("b", "test")] == 10 and counts[("b", "val")] == 6 and counts[("b", "train")] == 24


def test_same_seed_same_split_other_seed_differs():
    labels = _labels({"a": 30, "b": 30})
    fixed = [None] * len(labels)
    first = assign_splits(labels, fixed, 0.2, 0.2, seed=7)
    assert assign_splits(labels, fixed, 0.2, 0.2, seed=7) == first
    assert assign_splits(labels, fixed, 0.2, 0.2, seed=8) != first


def test_every_class_keeps_training_examples_and_gets_held_out_ones():
    labels = _labels({"rare": 3, "common": 50})
    splits = assign_splits(labels, [None] * len(labels), 0.15, 0.15, seed=0)
    rare = Counter(s for l, s in zip(labels, splits) if l == "rare")
    assert rare == {"train": 1, "val": 1, "test": 1}


def test_fixed_splits_are_kept_and_nothing_is_carved_when_all_are_given():
    labels = ["a", "b", "a", "b", "a", "b"]
    fixed = ["train", "train", "val", "val", "test", "test"]
    assert assign_splits(labels, fixed, 0.5, 0.5, seed=0) == fixed


def test_only_the_missing_split_is_carved_from_train():
    labels = _labels({"a": 10, "b": 10}) + ["a", "b"]
    fixed = [None] * 20 + ["val", "val"]
    splits = assign_splits(labels, fixed, 0.3, 0.3, seed=0)
    assert splits[20:] == ["val", "val"]
    assert Counter(splits[:20]) == {"train": 14, "test": 6}


def test_a_class_too_small_to_split_is_named():
    labels = _labels({"a": 10, "tiny": 2})
    with pytest.raises(DataError) as info:
        assign_splits(labels, [None] * len(labels), 0.15, 0.15, seed=0)
    assert "'tiny'" in info.value.what and "2 training image" in info.value.what
    assert "val/" in info.value.hint and "split column" in info.value.hint


def test_two_per_class_is_enough_when_only_one_split_is_carved():
    labels = ["a", "a", "b", "b", "a", "b"]
    fixed = [None, None, None, None, "test", "test"]
    splits = assign_splits(labels, fixed, 0.15, 0.15, seed=0)
    assert Counter(zip(labels, splits)) == {("a", "train"): 1, ("a", "val"): 1, ("b", "train"): 1,
                                            ("b", "val"): 1, ("a", "test"): 1, ("b", "test"): 1}


def test_each_carved_split_gets_at_least_one_item_per_class():
    labels = _labels({"a": 3, "b": 3})
    splits = assign_splits(labels, [None] * len(labels), 0.3, 0.6, seed=0)
    assert set(splits) == {"train", "val", "test"}


def test_copies_of_an_item_share_its_split():
    labels = _labels({"a": 30, "b": 30})
    groups = [i // 3 for i in range(len(labels))]  # every item three times
    splits = assign_splits(labels, [None] * len(labels), 0.2, 0.2, seed=3, groups=groups, noun="text")
    for group in set(groups):
        assert len({s for s, g in zip(splits, groups) if g == group}) == 1
    assert set(splits) == {"train", "val", "test"}


def test_a_rare_class_can_stay_in_training():
    labels = _labels({"a": 20, "once": 1})
    splits = assign_splits(labels, [None] * len(labels), 0.2, 0.2, seed=0, rare="train")
    assert splits[labels.index("once")] == "train"
