"""Engine callbacks: progress (a live bar on a terminal, a line per epoch in a log file), per-epoch
history for the report, quiet Lightning defaults."""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ProgressBar, RichProgressBar

from torchworks.console import is_interactive, say


def training_progress() -> ProgressBar:
    """The live bar where stderr is a terminal; one plain line per epoch where it is a file or a pipe
    (`torchworks train ... > log.txt 2>&1`), so a log gets no redrawn bars wrapped at 80 columns."""
    return TrainingProgressBar() if is_interactive() else EpochLines()


class TrainingProgressBar(RichProgressBar):
    """Lightning's rich bar with epochs counted from 1 and without the logger's version tag."""

    def __init__(self) -> None:
        super().__init__(leave=True)

    def get_metrics(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return metrics

    def _get_train_description(self, current_epoch: int) -> str:
        max_epochs = self.trainer.max_epochs
        return f"Epoch {current_epoch + 1}/{max_epochs if max_epochs and max_epochs > 0 else '?'}"


class EpochLines(ProgressBar):
    """Progress for a log file: ``epoch 3/10  train_loss=0.4127  val_loss=0.3904 ...  (12.3 s)``, one line
    per finished epoch, written as the epoch ends."""

    def __init__(self) -> None:
        super().__init__()
        self._enabled = True
        self._started = time.monotonic()

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._started = time.monotonic()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self._enabled or trainer.sanity_checking:
            return
        metrics = {k: v for k, v in self.get_metrics(trainer, pl_module).items() if k != "v_num"}
        shown = "  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(metrics.items()))
        total = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else "?"
        seconds = time.monotonic() - self._started
        say(f"epoch {trainer.current_epoch + 1}/{total}  {shown}  ({seconds:.1f} s)")


class HistoryRecorder(Callback):
    """Keeps one row of epoch-level metrics per epoch, with the epoch's ``seconds`` (training and
    validation); survives resume via the checkpoint."""

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = []
        self._started = time.monotonic()

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._started = time.monotonic()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        row: dict[str, Any] = {"epoch": trainer.current_epoch + 1,
                               "seconds": round(time.monotonic() - self._started, 2)}
        for key, value in trainer.callback_metrics.items():
            if getattr(value, "numel", lambda: 1)() == 1:
                row[key] = float(value)
        self.history = [r for r in self.history if r["epoch"] != row["epoch"]] + [row]

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict.get("history", []))


def quiet_lightning() -> None:
    """Silence Lightning's start-up banners and advice that do not apply to a torchworks user."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in (
        r".*does not have many workers.*",
        r".*Checkpoint directory .* exists and is not empty.*",
        r".*GPU available but not used.*",
        r".*number of training batches.*is smaller than the logging interval.*",
        r".*LightningModule.*has parameters that were not used.*",
        r".*The `srun` command is available.*",
        r".*Experiment with name .* not found.*",
        r".*pkg_resources is deprecated.*",
        r".*isinstance\(treespec, LeafSpec\)` is deprecated.*",
        r".*module\(s\) in eval mode at the start of training.*",  # a frozen pretrained part, on purpose
    ):
        warnings.filterwarnings("ignore", message=pattern)
