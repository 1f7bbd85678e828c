"""Precision resolution: the bf16 probe on the CPU and the fallback to 32-bit when it fails."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from torchworks.engine.devices import bf16_cpu_failure, supported_precision

ONEDNN_MESSAGE = "could not create a primitive descriptor for the LSTM forward propagation primitive"


class NoBf16(nn.Module):
    """Stands in for a model on a CPU without bf16 kernels for one of its layers: it raises what oneDNN
    raises there whenever CPU autocast is on, and works in 32-bit."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, inputs):
        if torch.is_autocast_enabled("cpu"):
            raise RuntimeError(ONEDNN_MESSAGE)
        return self.inner(inputs)


def test_the_probe_reports_the_first_line_of_the_error_and_restores_the_mode() -> None:
    model = NoBf16(nn.Linear(3, 2)).train()
    assert bf16_cpu_failure(model, torch.randn(2, 3)) == ONEDNN_MESSAGE
    assert model.training


def test_the_probe_leaves_no_trace_on_a_model_that_runs() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5)).train()
    statistics = model[1].running_mean.clone()
    batch = torch.randn(8, 3) + 5
    rng = torch.get_rng_state()
    assert bf16_cpu_failure(model, batch) is None
    assert torch.equal(model[1].running_mean, statistics)
    assert torch.equal(torch.get_rng_state(), rng)
    assert model.training


def test_bf16_falls_back_to_32_bit_with_one_warning(capsys) -> None:
    precision = supported_precision("bf16-mixed", "cpu", NoBf16(nn.Linear(3, 2)), lambda: torch.randn(2, 3))
    assert precision == "32-true"
    message = " ".join(capsys.readouterr().err.split())  # the console wraps at its width
    assert message.count("warning:") == 1
    assert message.startswith("warning: precision=bf16-mixed")
    assert f"({ONEDNN_MESSAGE})" in message and message.endswith("training in 32-true instead")


def test_bf16_is_kept_where_the_model_runs(capsys) -> None:
    assert supported_precision("bf16-mixed", "cpu", nn.Linear(3, 2), lambda: torch.randn(2, 3)) == "bf16-mixed"
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("precision", "accelerator"), [("32-true", "cpu"), ("bf16-mixed", "cuda"),
                                                         ("16-mixed", "cuda")])
def test_no_probe_is_run_unless_bf16_on_the_cpu(precision: str, accelerator: str) -> None:
    def example():
        raise AssertionError("the example batch is built only for a probe")

    assert supported_precision(precision, accelerator, NoBf16(nn.Linear(3, 2)), example) == precision


def test_training_falls_back_when_the_cpu_cannot_run_the_model_in_bf16(shapes_dir, tiny_settings, monkeypatch,
                                                                       capsys) -> None:
    import torchworks
    from torchworks.tasks import get_task

    task_class = type(get_task("image-classification"))
    build = task_class.build_model
    monkeypatch.setattr(task_class, "build_model", lambda self, *a, **k: NoBf16(build(self, *a, **k)))
    run = torchworks.train("image-classification", data=str(shapes_dir), precision="bf16-mixed",
                           **{**tiny_settings, "epochs": 1})
    manifest = json.loads((run.path / "bundle.json").read_text())
    assert manifest["training"]["precision"] == "32-true"
    assert "training in 32-true instead" in " ".join(capsys.readouterr().err.split())
