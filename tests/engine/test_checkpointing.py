"""Checkpoints (M1, M7): atomic saves; loads only from the run's own checkpoints/, never unpickling code."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from torchworks.engine.checkpointing import SafeCheckpointIO
from torchworks.errors import BundleError


class Canary:
    """Unpickling this creates ``path``: proof that code ran."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def checkpoints(tmp_path) -> Path:
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    return folder


def test_save_then_load_round_trip(checkpoints):
    io = SafeCheckpointIO(checkpoints)
    state = {"epoch": 3, "state_dict": {"w": torch.arange(4.0)}, "optimizer_states": [{"lr": 0.1}]}
    io.save_checkpoint(state, checkpoints / "last.ckpt")
    loaded = io.load_checkpoint(checkpoints / "last.ckpt")
    assert loaded["epoch"] == 3 and torch.equal(loaded["state_dict"]["w"], torch.arange(4.0))
    assert loaded["optimizer_states"] == [{"lr": 0.1}]
    assert sorted(p.name for p in checkpoints.iterdir()) == ["last.ckpt"], "no temp file is left"


def test_remove_checkpoint(checkpoints):
    io = SafeCheckpointIO(checkpoints)
    io.save_checkpoint({"a": 1}, checkpoints / "best.ckpt")
    io.remove_checkpoint(checkpoints / "best.ckpt")
    io.remove_checkpoint(checkpoints / "best.ckpt")  # already gone: no error
    assert not (checkpoints / "best.ckpt").exists()


@pytest.mark.parametrize("as_torch_save", [False, True])
def test_crafted_pickle_checkpoint_is_refused_without_running_code(tmp_path, checkpoints, as_torch_save):
    canary = tmp_path / "canary"
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(Canary(control)))
    assert control.exists(), "control: the payload does run code when unpickled"
    evil = checkpoints / "last.ckpt"
    if as_torch_save:
        torch.save({"state_dict": {}, "payload": Canary(canary)}, evil)
    else:
        evil.write_bytes(pickle.dumps({"state_dict": {}, "payload": Canary(canary)}, protocol=2))
    with pytest.raises(BundleError) as info:
        SafeCheckpointIO(checkpoints).load_checkpoint(evil)
    assert str(evil) in info.value.what
    assert not canary.exists()


@pytest.mark.parametrize("weights_only", [None, False])
def test_caller_cannot_turn_off_weights_only(tmp_path, checkpoints, weights_only):
    """Lightning passes weights_only through; asking for False must not fall back to full unpickling."""
    canary = tmp_path / "canary"
    evil = checkpoints / "last.ckpt"
    torch.save({"payload": Canary(canary)}, evil)
    with pytest.raises(BundleError):
        SafeCheckpointIO(checkpoints).load_checkpoint(evil, weights_only=weights_only)
    assert not canary.exists()


def test_garbage_checkpoint_is_a_bundle_error(checkpoints):
    (checkpoints / "last.ckpt").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(BundleError, match="cannot be loaded safely"):
        SafeCheckpointIO(checkpoints).load_checkpoint(checkpoints / "last.ckpt")


def _valid_checkpoint(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {"w": torch.ones(2)}}, path)
    return path


def test_checkpoint_outside_the_folder_is_refused(tmp_path, checkpoints):
    outside = _valid_checkpoint(tmp_path / "elsewhere" / "last.ckpt")
    with pytest.raises(BundleError) as info:
        SafeCheckpointIO(checkpoints).load_checkpoint(outside)
    assert "refusing to resume" in info.value.what


def test_sibling_folder_with_the_same_prefix_is_refused(tmp_path, checkpoints):
    sibling = _valid_checkpoint(checkpoints.parent / "checkpoints-evil" / "last.ckpt")
    with pytest.raises(BundleError, match="refusing to resume"):
        SafeCheckpointIO(checkpoints).load_checkpoint(sibling)


def test_dot_dot_escape_is_refused(tmp_path, checkpoints):
    _valid_checkpoint(checkpoints.parent / "other.ckpt")
    with pytest.raises(BundleError, match="refusing to resume"):
        SafeCheckpointIO(checkpoints).load_checkpoint(checkpoints / ".." / "other.ckpt")


def test_symlink_out_of_the_folder_is_refused(tmp_path, checkpoints):
    outside = _valid_checkpoint(tmp_path / "outside.ckpt")
    os.symlink(outside, checkpoints / "last.ckpt")
    with pytest.raises(BundleError, match="refusing to resume"):
        SafeCheckpointIO(checkpoints).load_checkpoint(checkpoints / "last.ckpt")


@pytest.mark.parametrize("url", ["https://example.com/last.ckpt", "http://127.0.0.1:9/last.ckpt", "file:///etc/passwd"])
def test_url_checkpoints_are_refused(checkpoints, url):
    with pytest.raises(BundleError, match="refusing to resume"):
        SafeCheckpointIO(checkpoints).load_checkpoint(url)


def test_the_folder_itself_is_not_a_checkpoint(checkpoints):
    with pytest.raises(BundleError, match="refusing to resume"):
        SafeCheckpointIO(checkpoints).load_checkpoint(checkpoints)


# ------------------------------------------------- one write per epoch: best.ckpt and last.ckpt share a file


def _scripted_module(val_losses: list[float]):
    """A one-weight LightningModule whose val_loss per epoch is given: which epochs improve is known."""
    import lightning.pytorch as pl

    class Scripted(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def training_step(self, batch, batch_idx):
            return ((self.weight - batch[0]) ** 2).mean()

        def validation_step(self, batch, batch_idx):
            pass

        def on_validation_epoch_end(self):
            self.log("val_loss", float(val_losses[self.current_epoch]))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

        def train_dataloader(self):
            return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(4)), batch_size=2)

        def val_dataloader(self):
            return self.train_dataloader()

    return Scripted()


def _fit_scripted(folder: Path, val_losses: list[float], writes: list[Path], monkeypatch) -> None:
    import lightning.pytorch as pl

    import torchworks.engine.checkpointing as checkpointing
    from torchworks.engine.checkpointing import RunCheckpoint

    write = checkpointing.atomic_write_bytes
    monkeypatch.setattr(checkpointing, "atomic_write_bytes", lambda path, data: writes.append(Path(path)) or write(path, data))
    trainer = pl.Trainer(max_epochs=len(val_losses), accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0,
                         callbacks=[RunCheckpoint(folder, monitor="val_loss", mode="min")],
                         plugins=[SafeCheckpointIO(folder)])
    trainer.fit(_scripted_module(val_losses))


def test_an_improving_epoch_writes_one_checkpoint_with_two_names(checkpoints, monkeypatch):
    writes: list[Path] = []
    _fit_scripted(checkpoints, [3.0, 2.0], writes, monkeypatch)

    best, last = checkpoints / "best.ckpt", checkpoints / "last.ckpt"
    assert writes == [best, best], "one write per epoch, never the same checkpoint twice"
    assert os.path.samefile(best, last)
    assert sorted(p.name for p in checkpoints.iterdir()) == ["best.ckpt", "last.ckpt"]
    state = torch.load(last, weights_only=True)
    assert state["epoch"] == 1
    saved = next(v for k, v in state["callbacks"].items() if k.startswith("RunCheckpoint"))
    assert float(saved["best_model_score"]) == 2.0 and saved["best_model_path"] == str(best)


def test_an_epoch_without_improvement_writes_only_last(checkpoints, monkeypatch):
    writes: list[Path] = []
    _fit_scripted(checkpoints, [3.0, 2.0, 5.0], writes, monkeypatch)

    best, last = checkpoints / "best.ckpt", checkpoints / "last.ckpt"
    assert writes == [best, best, last]
    assert not os.path.samefile(best, last)
    assert torch.load(best, weights_only=True)["epoch"] == 1
    last_state = torch.load(last, weights_only=True)
    assert last_state["epoch"] == 2
    saved = next(v for k, v in last_state["callbacks"].items() if k.startswith("RunCheckpoint"))
    assert float(saved["best_model_score"]) == 2.0, "resume from last.ckpt knows epoch 2 was the best"


def test_without_hard_links_the_second_name_is_a_copy(checkpoints, monkeypatch):
    import torchworks.bundle.atomic as atomic

    def no_links(*args, **kwargs):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(atomic.os, "link", no_links)
    io = SafeCheckpointIO(checkpoints)
    io.save_checkpoint({"epoch": 4}, checkpoints / "last.ckpt", storage_options={"same_as": [checkpoints / "best.ckpt"]})

    assert not os.path.samefile(checkpoints / "best.ckpt", checkpoints / "last.ckpt")
    assert io.load_checkpoint(checkpoints / "last.ckpt") == io.load_checkpoint(checkpoints / "best.ckpt") == {"epoch": 4}
    assert sorted(p.name for p in checkpoints.iterdir()) == ["best.ckpt", "last.ckpt"], "no temp file is left"
