"""``max_minutes=M``: train for as many epochs as fit in ``M`` minutes (``epochs`` at most).

After every epoch (training and validation together) the mean epoch time so far says how many epochs
fit in the budget; the run's last epoch becomes that number, never fewer than the epochs already done.
The learning-rate schedule reads the run's length as it is now, so the cosine still ends at zero on the
last epoch that fits: a slower machine trains fewer epochs with a complete schedule rather than being
cut off at a high learning rate. The same machine, settings and seed give the same number of epochs
only as far as its timing repeats; ``max_minutes=0`` (the engine's default) turns this off.
"""

from __future__ import annotations

import math
import time
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer

from torchworks.console import say


def epochs_that_fit(budget_seconds: float, spent_seconds: float, epochs_timed: int, epochs_done: int,
                    max_epochs: int) -> int:
    """The run's length in epochs: as many as fit in ``budget_seconds`` at the mean time of the
    ``epochs_timed`` epochs that took ``spent_seconds``, within ``[epochs_done, max_epochs]``."""
    if epochs_timed <= 0 or spent_seconds <= 0:
        return max_epochs
    fit = math.floor(budget_seconds / (spent_seconds / epochs_timed))
    return max(epochs_done, min(max_epochs, fit))


class TimeBudget(Callback):
    """Sets ``trainer.fit_loop.max_epochs`` after each epoch to :func:`epochs_that_fit` the budget; the time
    spent survives a resume through the checkpoint."""

    def __init__(self, minutes: float, max_epochs: int):
        self.budget = minutes * 60.0
        self.max_epochs = max_epochs
        self.spent = 0.0
        self.timed = 0
        self.planned = max_epochs
        self._started: float | None = None

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        trainer.fit_loop.max_epochs = self.planned  # a resumed run goes on with its plan

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._started = time.monotonic()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._started is None:
            return
        self.spent += time.monotonic() - self._started
        self.timed += 1
        planned = epochs_that_fit(self.budget, self.spent, self.timed, trainer.current_epoch + 1, self.max_epochs)
        if planned != self.planned:
            say(f"[dim]max_minutes={self.budget / 60:g}: {planned} of {self.max_epochs} epochs fit "
                f"(~{self.spent / self.timed:.0f} s each)[/dim]")
        self.planned = planned
        trainer.fit_loop.max_epochs = planned

    def state_dict(self) -> dict[str, Any]:
        return {"spent": self.spent, "timed": self.timed, "planned": self.planned}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.spent = float(state_dict.get("spent", 0.0))
        self.timed = int(state_dict.get("timed", 0))
        self.planned = int(state_dict.get("planned", self.max_epochs))
