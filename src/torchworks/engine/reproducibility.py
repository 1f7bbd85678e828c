"""Make every epoch a pure function of (weights, optimizer state, seed, epoch).

The order of samples, each sample's augmentation and the model's dropout are all seeded from
``(seed, epoch[, index])`` rather than from a global RNG that drifts. So a run resumed after
epoch k replays epoch k+1 exactly as an uninterrupted run would, with any number of workers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch.utils.data import Dataset, Sampler


def mix_seed(*parts: int) -> int:
    """A 63-bit seed from several integers (splitmix64-style mixing)."""
    value = 0x9E3779B97F4A7C15
    for part in parts:
        value ^= (int(part) + 0x9E3779B97F4A7C15 + (value << 6) + (value >> 2)) & 0xFFFFFFFFFFFFFFFF
        value = (value * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    return value & 0x7FFFFFFFFFFFFFFF


class EpochSampler(Sampler):
    """Yields ``(epoch, index)`` in an order fixed by ``(seed, epoch)``.

    With ``weights`` it draws ``len(weights)`` indices with replacement in proportion to them
    (a weighted sampler for imbalanced classes); otherwise it yields a permutation.
    """

    def __init__(self, size: int, seed: int, weights: Sequence[float] | None = None):
        self.size = size
        self.seed = seed
        self.weights = torch.as_tensor(weights, dtype=torch.double) if weights is not None else None
        self.epoch = 0
        self.epoch_source: Callable[[], int] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[Any]:
        if self.epoch_source is not None:  # Lightning may build the first iterator before set_epoch
            self.epoch = self.epoch_source()
        generator = torch.Generator().manual_seed(mix_seed(self.seed, self.epoch))
        return iter(self._arrange([int(i) for i in self._order(generator)], generator))

    def _order(self, generator: torch.Generator) -> torch.Tensor:
        if self.weights is not None:
            return torch.multinomial(self.weights, self.size, replacement=True, generator=generator)
        return torch.randperm(self.size, generator=generator)

    def _arrange(self, order: list[int], generator: torch.Generator) -> list[Any]:
        return [(self.epoch, i) for i in order]


class BucketBatchSampler(EpochSampler):
    """Yields whole batches of ``(epoch, index)`` whose samples have similar lengths.

    The epoch's seeded order is cut into pools of ``pool`` batches; each pool is sorted by length
    and cut into batches, and the batches are shuffled. Padding shrinks to about the spread of
    lengths within a batch, while every batch still mixes samples from across the dataset.
    """

    def __init__(self, lengths: Sequence[float], batch_size: int, seed: int,
                 weights: Sequence[float] | None = None, pool: int = 8):
        super().__init__(len(lengths), seed, weights)
        self.lengths = [float(length) for length in lengths]
        self.batch_size = batch_size
        self.pool = pool

    def __len__(self) -> int:
        span = self.batch_size * self.pool
        full, rest = divmod(self.size, span)
        return full * self.pool + math.ceil(rest / self.batch_size)

    def _arrange(self, order: list[int], generator: torch.Generator) -> list[Any]:
        span = self.batch_size * self.pool
        batches = []
        for start in range(0, len(order), span):
            pool = sorted(order[start:start + span], key=self.lengths.__getitem__)
            batches += [pool[i:i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
        shuffled = torch.randperm(len(batches), generator=generator).tolist()
        return [[(self.epoch, i) for i in batches[b]] for b in shuffled]


class EpochSeededDataset(Dataset):
    """Wraps a dataset so that item ``(epoch, i)`` is produced under a seed of ``(seed, epoch, i)``."""

    def __init__(self, dataset: Dataset, seed: int):
        self.dataset = dataset
        self.seed = seed

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        # Seed only the CPU generator, and restore it afterwards: torch.manual_seed would also
        # queue a CUDA re-seed with a stack trace each call, ~40x slower per sample.
        generator = torch.default_generator
        saved = generator.get_state()
        generator.manual_seed(mix_seed(self.seed, epoch, index))
        try:
            return self.dataset[index]
        finally:
            generator.set_state(saved)


class EpochSeeder(Callback):
    """Sets the sampler's epoch before the first batch is drawn and seeds dropout per batch."""

    def __init__(self, sampler: EpochSampler, seed: int):
        self.sampler = sampler
        self.seed = seed

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self.sampler.epoch_source = lambda: trainer.fit_loop.epoch_progress.current.processed

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        # per batch, right before the step: whatever drew from the global RNG since (a DataLoader
        # iterator takes one int64 for its base seed when created) cannot shift the dropout masks
        torch.manual_seed(mix_seed(self.seed, trainer.current_epoch, batch_idx, 0xD20))
