"""The seeded samplers: a shuffled order per epoch, and length-bucketed batches."""

from __future__ import annotations

import random

from torchworks.engine.reproducibility import BucketBatchSampler, EpochSampler


def _lengths(n: int = 500) -> list[float]:
    rng = random.Random(0)
    return [rng.uniform(0.5, 20.0) for _ in range(n)]


def test_bucketed_batches_hold_every_sample_once_per_epoch():
    lengths = _lengths(503)
    sampler = BucketBatchSampler(lengths, batch_size=16, seed=1)
    batches = list(sampler)
    indices = [i for batch in batches for _, i in batch]
    assert sorted(indices) == list(range(503))
    assert len(batches) == len(sampler)
    assert all(1 <= len(batch) <= 16 for batch in batches)
    assert {epoch for batch in batches for epoch, _ in batch} == {0}


def test_bucketed_batches_pad_far_less_than_shuffled_ones():
    lengths = _lengths()
    padded = lambda batches: sum(len(b) * max(lengths[i] for _, i in b) for b in batches)  # noqa: E731
    bucketed = list(BucketBatchSampler(lengths, batch_size=16, seed=1))
    order = [i for _, i in EpochSampler(len(lengths), seed=1)]
    shuffled = [[(0, i) for i in order[k:k + 16]] for k in range(0, len(order), 16)]
    assert padded(bucketed) < 0.75 * padded(shuffled)


def test_bucketed_batches_are_a_function_of_seed_and_epoch():
    lengths = _lengths()
    first, again, other_seed = (BucketBatchSampler(lengths, 16, seed) for seed in (1, 1, 2))
    assert list(first) == list(again)
    assert list(first) != list(other_seed)
    again.set_epoch(1)
    second_epoch = list(again)
    assert [[i for _, i in b] for b in second_epoch] != [[i for _, i in b] for b in first]
    assert {epoch for batch in second_epoch for epoch, _ in batch} == {1}


def test_bucketed_batches_follow_sample_weights():
    lengths = [1.0] * 50 + [2.0] * 50
    weights = [1.0] * 50 + [0.0] * 50
    indices = [i for batch in BucketBatchSampler(lengths, 8, seed=3, weights=weights) for _, i in batch]
    assert len(indices) == 100
    assert all(i < 50 for i in indices)
