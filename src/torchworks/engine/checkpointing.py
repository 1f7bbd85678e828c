"""Crash-safe Lightning checkpoints that only ever load from the run's own folder, without pickles."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import CheckpointIO

from torchworks.bundle.atomic import atomic_write_bytes
from torchworks.errors import BundleError

LAST = "last.ckpt"


class SafeCheckpointIO(CheckpointIO):
    """Atomic saves (temp file, fsync, rename) and ``weights_only=True`` loads from ``folder`` only."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buffer.getvalue())

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


def _require_inside(file: Path, folder: Path) -> None:
    real_file, real_folder = os.path.realpath(file), os.path.realpath(folder)
    if not real_file.startswith(real_folder + os.sep) or "://" in str(file):
        raise BundleError(
            f"refusing to resume from '{file}'",
            expected=f"a checkpoint inside the run's own folder {folder}",
            got="a path outside it",
            hint="resume=true continues the named run from its own checkpoints/",
        )
