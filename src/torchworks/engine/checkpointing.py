"""Crash-safe Lightning checkpoints that only ever load from the run's own folder, without pickles.

A run keeps two checkpoints while it trains: ``last.ckpt`` (what ``resume=true`` continues from,
written every epoch) and ``best.ckpt`` (the epoch with the best monitored value, whose weights become
the bundle's). In an epoch that improves, both are the same checkpoint: it is written once and the
second name is a hard link to the same file, so it costs no disk space.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import CheckpointIO

from torchworks.bundle.atomic import atomic_link, atomic_write_bytes
from torchworks.errors import BundleError

LAST = "last.ckpt"
BEST = "best.ckpt"
SAME_AS = "same_as"  # storage option: more names for the same checkpoint (written once, then linked)


class RunCheckpoint(ModelCheckpoint):
    """``last.ckpt`` after every epoch and ``best.ckpt`` for the best monitored value, in one callback.

    Lightning's own ``save_last=True`` writes ``last.ckpt`` only in epochs that also saved a top-k
    checkpoint, which would make resume repeat epochs; two separate callbacks would write the same
    checkpoint twice in every epoch that improves. Here the best-checkpoint bookkeeping is
    Lightning's; the one write per epoch goes to ``last.ckpt``, and to ``best.ckpt`` as well (a hard
    link) when the epoch improved. Both files hold the state of this callback after the epoch, so
    resuming from either knows which epoch was best.
    """

    def __init__(self, folder: Path, monitor: str, mode: str):
        super().__init__(dirpath=folder, filename=Path(BEST).stem, monitor=monitor, mode=mode,
                         save_top_k=1, enable_version_counter=False)
        self._improved: str | None = None

    def _save_topk_checkpoint(self, trainer, monitor_candidates) -> None:
        self._improved = None
        super()._save_topk_checkpoint(trainer, monitor_candidates)  # decides; calls _save_checkpoint if improved
        last = str(Path(self.dirpath) / LAST)
        self.last_model_path = last
        same_as = {SAME_AS: [self._improved]} if self._improved else None
        trainer.save_checkpoint(last, self.save_weights_only, storage_options=same_as)
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = last
        self._improved = None

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        self._improved = filepath  # written together with last.ckpt, once the state above is complete


class SafeCheckpointIO(CheckpointIO):
    """Atomic saves (temp file, fsync, rename) and ``weights_only=True`` loads from ``folder`` only."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        """Write ``checkpoint`` to ``path``; ``storage_options={"same_as": [other, ...]}`` gives it more names.

        The other names are written first and ``path`` becomes a hard link to the first of them, so a
        crash between the two leaves ``path`` at its previous, complete version, never a torn file.
        """
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        names = [Path(name) for name in (storage_options or {}).get(SAME_AS, [])] + [Path(path)]
        names[0].parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(names[0], buffer.getvalue())
        for name in names[1:]:
            if not atomic_link(names[0], name):
                atomic_write_bytes(name, buffer.getvalue())  # a file system without hard links: a copy

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        file = Path(path)
        _require_inside(file, self.folder)
        try:
            return torch.load(file, map_location=map_location or "cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint gets the same answer
            raise BundleError(
                f"checkpoint '{file}' cannot be loaded safely",
                expected="a checkpoint written by torchworks (tensors and plain values only)",
                got=f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}",
                hint="delete the checkpoint and train from scratch (resume=false)",
            ) from None

    def remove_checkpoint(self, path: Any) -> None:
        Path(path).unlink(missing_ok=True)


def epochs_done(path: Path) -> int | None:
    """How many epochs the checkpoint at ``path`` holds (its tensors are mapped, not read); None
    where it cannot be read (resuming then names the problem)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return int(checkpoint["epoch"]) + 1
    except Exception:  # noqa: BLE001 - any unreadable checkpoint: the load that resumes will explain
        return None


def _require_inside(file: Path, folder: Path) -> None:
    real_file, real_folder = os.path.realpath(file), os.path.realpath(folder)
    if not real_file.startswith(real_folder + os.sep) or "://" in str(file):
        raise BundleError(
            f"refusing to resume from '{file}'",
            expected=f"a checkpoint inside the run's own folder {folder}",
            got="a path outside it",
            hint="resume=true continues the named run from its own checkpoints/",
        )
