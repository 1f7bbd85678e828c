"""Transfer learning schedule: train only the head while the backbone is frozen, then fine-tune."""

from __future__ import annotations

from lightning.pytorch import Callback, LightningModule, Trainer


class BackboneFreezer(Callback):
    """Freezes ``model.backbone`` (weights and batch-norm statistics) until epoch ``unfreeze_at``."""

    def __init__(self, unfreeze_at: int):
        self.unfreeze_at = unfreeze_at

    def frozen(self, epoch: int) -> bool:
        """Whether the backbone stays frozen during 0-based ``epoch``."""
        return not self.unfreeze_at or epoch + 1 < self.unfreeze_at

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        backbone = pl_module.model.backbone
        frozen = self.frozen(trainer.current_epoch)
        backbone.requires_grad_(not frozen)
        if frozen:
            backbone.eval()
