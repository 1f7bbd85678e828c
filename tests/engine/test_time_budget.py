"""max_minutes=M: as many epochs as fit in M minutes, with the learning-rate schedule fitted to them."""

from __future__ import annotations

import json

import pytest
import torch

import torchworks
from torchworks.engine.time_budget import epochs_that_fit


@pytest.mark.parametrize("budget, spent, timed, done, most, expected", [
    (600, 60, 1, 1, 16, 10),   # 60 s an epoch: ten fit
    (600, 130, 2, 2, 16, 9),   # 65 s on average: nine
    (600, 60, 1, 1, 8, 8),     # never more than epochs=
    (600, 500, 5, 5, 16, 6),   # 100 s each: six, one to go
    (600, 700, 5, 5, 16, 5),   # over budget already: stop after the epochs done
    (600, 0, 0, 0, 16, 16),    # nothing timed yet
])
def test_the_epochs_that_fit_the_budget(budget, spent, timed, done, most, expected):
    assert epochs_that_fit(budget, spent, timed, done, most) == expected


def _train(toy_task, tmp_path, **settings):
    data = toy_task.make_points(tmp_path / "points.csv", n=120, seed=1)
    return torchworks.train("toy-points", data=str(data), output=str(tmp_path / "runs"), epochs=4, batch_size=16,
                            lr=0.03, mlflow=False, progress=True, keep_checkpoints="last", **settings)


class _EpochsOfTenSeconds:
    """A clock for the budget alone: each reading is 10 s after the last, and it reads at an epoch's start
    and end."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += 10.0
        return self.now


def test_a_run_stops_at_the_epochs_that_fit_and_its_schedule_ends_with_them(toy_task, tmp_path, capsys, monkeypatch):
    import torchworks.engine.time_budget as time_budget

    monkeypatch.setattr(time_budget, "time", _EpochsOfTenSeconds())
    result = _train(toy_task, tmp_path, max_minutes=0.5)  # 30 s: three epochs of ten

    manifest = json.loads((result.path / "bundle.json").read_text())
    assert [row["epoch"] for row in manifest["history"]] == [1, 2, 3]
    assert manifest["training"]["epochs_run"] == 3
    checkpoint = torch.load(result.path / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["lr_schedulers"][0]["_last_lr"] == [pytest.approx(0.0, abs=1e-12)]  # the cosine ended
    err = capsys.readouterr().err
    assert "max_minutes=0.5: 3 of 4 epochs fit (~10 s each)" in err and "epoch 3/3" in err


def test_a_budget_that_holds_every_epoch_changes_nothing(toy_task, tmp_path):
    timed = _train(toy_task, tmp_path, max_minutes=60, name="timed")
    plain = _train(toy_task, tmp_path, name="plain")

    history = json.loads((timed.path / "bundle.json").read_text())["history"]
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    assert all(0 < row["seconds"] < 60 for row in history)  # each epoch's time is kept with its metrics
    assert (timed.path / "model.safetensors").read_bytes() == (plain.path / "model.safetensors").read_bytes()
