"""Training rows of RELIABILITY.md: T2 (kill and resume), T3 (non-finite loss), T4 (seeding),
T5 (memory exhaustion), T6 (unwritable output). Faults are real: SIGKILL, RLIMIT_AS, a diverging
optimiser, a file where a folder should be."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import torchworks
from torchworks.errors import EXIT_USER_ERROR, ConfigError, OutputError, TrainingError

TASK = "image-classification"
CHILD_TIMEOUT = 180

# A training process that SIGKILLs itself as epoch KILL_AFTER_EPOCHS + 1 starts, i.e. once
# KILL_AFTER_EPOCHS epochs and all their end-of-epoch work (validation, checkpoints) are done: the
# state `kill -9` leaves between two epochs, without racing a poller against a loop that finishes
# an epoch in milliseconds.
KILLED_CHILD = """
import json, os, signal, sys
from torchworks.engine.module import TaskModule
import torchworks

kill_after = int(os.environ["KILL_AFTER_EPOCHS"])
start_epoch = TaskModule.on_train_epoch_start

def die_between_epochs(self):
    if self.trainer.current_epoch >= kill_after:
        os.kill(os.getpid(), signal.SIGKILL)
    start_epoch(self)

TaskModule.on_train_epoch_start = die_between_epochs
torchworks.train("image-classification", **json.loads(sys.argv[1]))
"""

# The CLI in a process whose address space is capped just above what the imports already use,
# so that the first large activation of training cannot be allocated.
MEMORY_CAPPED_CLI = """
import resource, sys
import torch, torchvision, torchmetrics, lightning.pytorch
import torchworks.cli.main as cli
import torchworks.engine.train
from torchworks.tasks import list_tasks

list_tasks()
torch.ones(256, 256) @ torch.ones(256, 256)  # start the intra-op thread pool before the cap

def address_space() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize")

headroom = int(sys.argv[1]) * 2**20
resource.setrlimit(resource.RLIMIT_AS, (address_space() + headroom, resource.RLIM_INFINITY))
sys.argv = ["torchworks", *sys.argv[2:]]
cli.main()
"""

# SGD at lr=10 with weight_decay=1 multiplies every weight by about -9 per step: epoch 1 ends
# with finite weights and a checkpoint, and the run turns NaN within the next two epochs
# (6 steps per epoch at batch_size=4).
DIVERGING = {
    "optimizer": "sgd",
    "lr": 10.0,
    "weight_decay": 1.0,
    "scheduler": "none",
    "batch_size": 4,
    "epochs": 6,
    "baselines": False,
}


def _run_child(code: str, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
    )


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "model.safetensors")


def _unequal_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> list[str]:
    assert a.keys() == b.keys()
    return sorted(name for name in a if not torch.equal(a[name], b[name]))


def _checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _bundles_under(root: Path) -> list[Path]:
    return sorted(root.rglob("bundle.json")) + sorted(root.rglob("model.safetensors"))


# ---------------------------------------------------------------------------------------------- T2


def _kill_after(epochs_done: int, settings: dict, cwd: Path) -> Path:
    """Train ``settings`` in a child SIGKILLed after ``epochs_done`` epochs; returns its run folder."""
    child = _run_child(KILLED_CHILD, [json.dumps(settings)], cwd, {"KILL_AFTER_EPOCHS": str(epochs_done)})
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    run = Path(settings["output"]) / TASK / settings["name"]
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert not (run / "bundle.json").exists() and not (run / "model.safetensors").exists()
    return run


def _resume_recording_epochs(settings: dict, monkeypatch) -> tuple[Path, list[tuple[int, int]]]:
    """Resume the run named in ``settings``; returns its folder and the (epoch, global_step) of each
    training step this resumed process ran."""
    from torchworks.engine.module import TaskModule

    trained: list[tuple[int, int]] = []
    original = TaskModule.training_step

    def recording_step(self, batch, batch_idx):
        trained.append((self.current_epoch, self.global_step))
        return original(self, batch, batch_idx)

    with monkeypatch.context() as patch:
        patch.setattr(TaskModule, "training_step", recording_step)
        resumed = torchworks.train(TASK, **{**settings, "resume": True})
    return resumed.path, trained


def _settings(shapes_dir, tiny_settings, **overrides) -> dict:
    return {**tiny_settings, "data": str(shapes_dir), "baselines": False, "name": "run", **overrides}


@pytest.mark.slow
def test_resume_after_sigkill_restarts_at_next_epoch_and_equals_uninterrupted_run(
    shapes_dir, tiny_settings, tmp_path, monkeypatch
):
    """T2 with no dropout and no workers: optimizer, LR schedule, sample order, augmentation and
    best-checkpoint tracking all come back, and the weights are bit-identical."""
    settings = _settings(shapes_dir, tiny_settings, dropout=0.0, num_workers=0)
    killed = _kill_after(1, settings, tmp_path)
    at_kill = _checkpoint(killed / "checkpoints" / "last.ckpt")
    assert at_kill["epoch"] == 0  # epoch 1 is in the checkpoint

    resumed, trained = _resume_recording_epochs(settings, monkeypatch)
    reference = torchworks.train(TASK, **{**settings, "name": "reference"})

    assert resumed == killed
    assert {epoch for epoch, _ in trained} == {1}  # only epoch 2 (0-based 1) ran again
    assert trained[0][1] == at_kill["global_step"]  # the step count carried on
    manifest = json.loads((resumed / "bundle.json").read_text())
    assert [row["epoch"] for row in manifest["history"]] == [1, 2]
    assert manifest["history"][0] == at_kill["callbacks"]["HistoryRecorder"]["history"][0]
    assert _unequal_tensors(_weights(resumed), _weights(reference.path)) == []


def _resume_matches_uninterrupted(settings: dict, cwd: Path) -> list[str]:
    killed = _kill_after(1, settings, cwd)
    resumed = torchworks.train(TASK, **{**settings, "resume": True})
    reference = torchworks.train(TASK, **{**settings, "name": "reference"})
    assert resumed.path == killed
    return _unequal_tensors(_weights(resumed.path), _weights(reference.path))


@pytest.mark.slow
def test_resume_with_dropout_equals_uninterrupted_run(shapes_dir, tiny_settings, tmp_path):
    """T2 with the default dropout (0.2) and num_workers=0."""
    assert _resume_matches_uninterrupted(_settings(shapes_dir, tiny_settings, num_workers=0), tmp_path) == []


@pytest.mark.slow
def test_resume_with_workers_equals_uninterrupted_run(shapes_dir, tiny_settings, tmp_path):
    """T2 with num_workers=2 (dropout off, to isolate the loader)."""
    settings = _settings(shapes_dir, tiny_settings, num_workers=2, dropout=0.0)
    assert _resume_matches_uninterrupted(settings, tmp_path) == []


@pytest.mark.slow
def test_resume_after_an_epoch_without_improvement_restarts_at_the_next_epoch(
    shapes_dir, tiny_settings, tmp_path, monkeypatch
):
    """T2, k=3: the third epoch's val_loss is worse than the second's (a large fixed lr)."""
    settings = _settings(shapes_dir, tiny_settings, dropout=0.0, num_workers=0, epochs=4, lr=1.0, scheduler="none")
    reference = torchworks.train(TASK, **{**settings, "name": "reference"})
    val_losses = [row["val_loss"] for row in json.loads((reference.path / "bundle.json").read_text())["history"]]
    assert val_losses[2] > min(val_losses[:2]), f"precondition: epoch 3 must not improve, got {val_losses}"

    killed = _kill_after(3, settings, tmp_path)
    last_epoch = _checkpoint(killed / "checkpoints" / "last.ckpt")["epoch"] + 1
    _, trained = _resume_recording_epochs(settings, monkeypatch)

    assert (last_epoch, sorted({epoch + 1 for epoch, _ in trained})) == (3, [4])


class _Crash(Exception):
    """Stands in for whatever ended a run after its first checkpoint."""


def _interrupted_run(shapes_dir, settings: dict, monkeypatch) -> Path:
    from torchworks.engine.checkpointing import SafeCheckpointIO

    save = SafeCheckpointIO.save_checkpoint

    def save_then_crash(self, checkpoint, path, storage_options=None):
        save(self, checkpoint, path, storage_options)
        if Path(path).name == "last.ckpt":
            raise _Crash("interrupted after epoch 1")

    monkeypatch.setattr(SafeCheckpointIO, "save_checkpoint", save_then_crash)
    with pytest.raises(_Crash):
        torchworks.train(TASK, data=str(shapes_dir), **settings)
    monkeypatch.setattr(SafeCheckpointIO, "save_checkpoint", save)
    run = Path(settings["output"]) / TASK / settings["name"]
    assert (run / "checkpoints" / "last.ckpt").is_file() and not (run / "bundle.json").exists()
    return run


def test_interrupted_run_resumes_with_its_stored_settings(shapes_dir, tiny_settings, monkeypatch):
    """Settings given now win over stored ones only where given; everything else comes from config.json."""
    settings = {**tiny_settings, "name": "run", "baselines": False, "epochs": 2}
    run = _interrupted_run(shapes_dir, settings, monkeypatch)

    resumed = torchworks.train(TASK, data=str(shapes_dir), output=settings["output"], name="run",
                               resume=True, mlflow=False, progress=False)

    assert resumed.path == run
    config = json.loads((run / "bundle.json").read_text())["config"]
    assert config["image_size"] == 16 and config["model"] == "smallcnn" and config["epochs"] == 2


def test_resume_needs_only_the_run_name(shapes_dir, tiny_settings, monkeypatch, capsys):
    settings = {**tiny_settings, "name": "run", "baselines": False}
    run = _interrupted_run(shapes_dir, settings, monkeypatch)
    capsys.readouterr()

    try:
        resumed = torchworks.train(TASK, output=settings["output"], name="run", resume=True)
    except ConfigError as exc:
        pytest.fail(f"resume asked for settings the run already stores: {exc}")
    assert resumed.path == run
    assert "resuming run run at epoch 2 of 2 (1 done, from checkpoints/last.ckpt)" in capsys.readouterr().err
    manifest = json.loads((run / "bundle.json").read_text())
    assert [row["epoch"] for row in manifest["history"]] == [1, 2], "epoch 1 is kept, only epoch 2 is run again"
    config = manifest["config"]
    assert (config["data"], config["model"], config["image_size"], config["baselines"]) == (
        str(shapes_dir), "smallcnn", 16, False), "every setting comes from the stored run"
    assert manifest["metrics"]["accuracy"] == json.loads((run / "metrics.json").read_text())["accuracy"]


# ---------------------------------------------------------------------------------------------- T3


def test_non_finite_training_stops_naming_epoch_and_step_and_keeps_a_good_checkpoint(shapes_dir, tiny_settings):
    with pytest.raises(TrainingError) as caught:
        torchworks.train(TASK, data=str(shapes_dir), **{**tiny_settings, "name": "diverge", **DIVERGING})

    message = str(caught.value)
    assert re.search(r"\b(nan|inf|non-finite)\b", message, flags=re.I), message
    epoch = int(re.search(r"\bepoch (\d+)", message).group(1))
    step = int(re.search(r"\bstep (\d+)", message).group(1))
    assert "lr=" in caught.value.hint

    run = Path(tiny_settings["output"]) / TASK / "diverge"
    assert not (run / "bundle.json").exists() and not (run / "model.safetensors").exists()
    assert epoch >= 2, "this recipe should survive epoch 1, so that a good checkpoint exists"
    last = _checkpoint(run / "checkpoints" / "last.ckpt")
    steps_per_epoch = last["global_step"] // (last["epoch"] + 1)
    assert last["epoch"] + 1 < epoch  # the kept checkpoint predates the failing epoch
    assert last["global_step"] < step <= epoch * steps_per_epoch  # and the step named lies in that epoch
    assert all(torch.isfinite(t).all() for t in last["state_dict"].values() if t.is_floating_point())


@pytest.mark.slow
def test_cli_exits_2_on_non_finite_loss(shapes_dir, tiny_settings, tmp_path):
    settings = {**tiny_settings, **DIVERGING, "data": str(shapes_dir)}
    args = ["train", TASK, *(f"{k}={v}" for k, v in settings.items())]

    child = _run_child("from torchworks.cli.main import main; main()", args, tmp_path)

    assert child.returncode == EXIT_USER_ERROR, child.stderr[-3000:]
    error_line = next((line for line in child.stderr.splitlines() if line.startswith("error: ")), "")
    assert re.search(r"\b(nan|inf|non-finite)\b.*\bepoch \d+.*\bstep \d+", error_line, flags=re.I), child.stderr
    assert "Traceback" not in child.stderr
    assert not _bundles_under(Path(tiny_settings["output"]))


# ---------------------------------------------------------------------------------------------- T4


def test_same_seed_with_workers_gives_identical_weights_and_another_seed_does_not(shapes_dir, tiny_settings):
    settings = {**tiny_settings, "data": str(shapes_dir), "num_workers": 2, "baselines": False}

    first = torchworks.train(TASK, **{**settings, "seed": 7})
    again = torchworks.train(TASK, **{**settings, "seed": 7})
    other = torchworks.train(TASK, **{**settings, "seed": 8})

    assert first.path != again.path
    assert _unequal_tensors(_weights(first.path), _weights(again.path)) == []
    assert _unequal_tensors(_weights(first.path), _weights(other.path)) != []


# ---------------------------------------------------------------------------------------------- T5


@pytest.mark.slow
def test_memory_exhaustion_suggests_a_smaller_batch_and_leaves_no_bundle(shapes_dir, tiny_settings, tmp_path):
    output = Path(tiny_settings["output"])
    settings = {**tiny_settings, "data": str(shapes_dir), "image_size": 512, "batch_size": 64,
                "epochs": 1, "baselines": False}
    args = ["1024", "train", TASK, *(f"{k}={v}" for k, v in settings.items())]

    child = _run_child(MEMORY_CAPPED_CLI, args, tmp_path)

    assert child.returncode == EXIT_USER_ERROR, child.stderr[-3000:]
    assert "error: training ran out of memory" in child.stderr
    assert "batch_size=" in child.stderr
    assert "Traceback" not in child.stderr
    assert not _bundles_under(output)


# ---------------------------------------------------------------------------------------------- T6


def test_output_under_a_regular_file_fails_before_any_training(shapes_dir, tiny_settings, tmp_path, monkeypatch):
    from torchworks.tasks.image_classification.task import ImageClassification

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("precious")

    def no_data_work(*args, **kwargs):
        raise AssertionError("prepare_data ran although the output cannot be written")

    monkeypatch.setattr(ImageClassification, "prepare_data", no_data_work)
    with pytest.raises(OutputError) as caught:
        torchworks.train(TASK, data=str(shapes_dir), **{**tiny_settings, "output": str(blocker / "runs")})

    assert str(blocker / "runs") in str(caught.value)
    assert "output=" in caught.value.hint
    assert blocker.read_text() == "precious"


def test_cli_exits_2_when_output_is_under_a_regular_file(shapes_dir, tiny_settings, tmp_path, monkeypatch, capsys):
    from torchworks.cli.main import main

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("precious")
    settings = {**tiny_settings, "data": str(shapes_dir), "output": str(blocker / "runs")}
    monkeypatch.setattr(sys, "argv", ["torchworks", "train", TASK, *(f"{k}={v}" for k, v in settings.items())])

    with pytest.raises(SystemExit) as exited:
        main()

    assert exited.value.code == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "error: cannot write runs to" in err and "Traceback" not in err
    assert blocker.read_text() == "precious"


class _SelfKillingDataset(torch.utils.data.Dataset):
    """Stands in for a worker the kernel's out-of-memory killer ends: SIGKILL from inside the worker."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int):
        os.kill(os.getpid(), signal.SIGKILL)


def test_a_data_worker_killed_by_sigkill_reads_as_probable_oom_with_a_hint():
    from torchworks.engine.train import _as_user_error, _is_oom

    loader = torch.utils.data.DataLoader(_SelfKillingDataset(), batch_size=2, num_workers=1)
    with pytest.raises(RuntimeError) as raised:
        next(iter(loader))

    assert _is_oom(raised.value), str(raised.value)
    error = _as_user_error(raised.value)
    assert "worker" in error.what and "memory" in error.what
    assert "num_workers=" in error.hint
    assert not _is_oom(RuntimeError("DataLoader worker (pid 1) raised ValueError: bad pixel"))
