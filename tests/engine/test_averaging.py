"""ema=DECAY: the weights' moving average is what validation sees and what the bundle keeps."""

from __future__ import annotations

import pytest
import torch

import torchworks
from torchworks.engine.averaging import ExponentialAverage, warming_decay


def test_the_decay_warms_up_to_the_one_asked_for():
    assert warming_decay(0.999, 0) == pytest.approx(0.1)
    assert warming_decay(0.999, 10) == pytest.approx(11 / 20)
    assert warming_decay(0.999, 100_000) == 0.999


def test_a_decay_outside_zero_to_one_is_refused():
    for decay in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError):
            ExponentialAverage(decay)


def test_the_average_follows_the_formula_for_weights_and_batch_norm_statistics():
    from torch.optim.swa_utils import AveragedModel

    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    callback = ExponentialAverage(0.9)
    average = AveragedModel(model, use_buffers=True, **callback._kwargs)
    expected = [t.detach().clone() for t in (*model.parameters(), *model.buffers())]
    average.update_parameters(model)  # the first update copies
    for updates in range(1, 40):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
            model.train()(torch.randn(8, 3))  # moves the running statistics
        keep = warming_decay(0.9, updates)
        current = [t.detach().clone() for t in (*model.parameters(), *model.buffers())]
        expected = [keep * e + (1 - keep) * c if c.is_floating_point() else c for e, c in zip(expected, current)]
        average.update_parameters(model)
    got = [t.detach() for t in (*average.module.parameters(), *average.module.buffers())]
    for e, g in zip(expected, got):
        assert torch.allclose(e.float(), g.float(), atol=1e-5)
    assert int(got[-1]) == int(model[1].num_batches_tracked)  # a counter is copied, not averaged


def test_a_run_with_ema_keeps_the_averaged_weights(toy_task, tmp_path):
    data = toy_task.make_points(tmp_path / "points.csv", n=120, seed=1)
    result = torchworks.train("toy-points", data=str(data), output=str(tmp_path / "runs"), epochs=3, batch_size=16,
                              lr=0.03, mlflow=False, progress=False, ema=0.9, keep_checkpoints="best")

    checkpoint = torch.load(result.path / "checkpoints" / "best.ckpt", weights_only=True)
    averaged, trained = checkpoint["state_dict"], checkpoint["current_model_state"]
    assert any(not torch.equal(averaged[k], trained[k]) for k in averaged if averaged[k].is_floating_point())
    from safetensors.torch import load_file

    kept = load_file(result.path / "model.safetensors")
    assert kept and all(torch.equal(value, averaged["model." + key]) for key, value in kept.items())
