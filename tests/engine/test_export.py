"""The export mode: ONNX and TorchScript files, float and int8, that reproduce the eager model and pass
the parity gate on the test split, recorded in bundle.json."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from torchworks.bundle.exports import verified_export
from torchworks.bundle.io import read_bundle
from torchworks.engine import export as export_module
from torchworks.engine.export import export
from torchworks.engine.runners import choose_runner, load_runner_file
from torchworks.errors import BundleError, ConfigError


@pytest.fixture
def run(image_run, tmp_path):
    return shutil.copytree(image_run, tmp_path / "run")


def _entry(run, fmt):
    return json.loads((run / "bundle.json").read_text())["exports"][fmt]


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_float_exports_match_eager_on_other_batch_sizes(run, fmt):
    from torchworks.engine.loading import load_model

    [result] = export(run, fmt)
    entry = _entry(run, fmt)
    assert entry["max_abs_diff"] <= 1e-4 and entry["inputs"] == ["input"] and len(entry["sha256"]) == 64
    assert result.passed and entry["status"] == "passed" and entry["size_bytes"] == result.path.stat().st_size
    parity = entry["parity"]
    assert parity["metric"] == "accuracy" and parity["delta"] == 0 and parity["max_abs_diff"] <= 1e-4
    assert parity["test_samples"] == 6 and parity["eager"] == read_metrics(run)["accuracy"]
    bundle, task, _, model = load_model(run)
    runner = load_runner_file(fmt, result.path, entry["inputs"], threads=1)
    batch = torch.randn(5, *task.example_input(bundle.state).shape[1:])  # a batch size never exported
    with torch.no_grad():
        expected = model(batch)
    assert (runner(batch) - expected).abs().max() < 1e-4


def read_metrics(run):
    return json.loads((run / "metrics.json").read_text())


def test_int8_exports_pass_the_gate_and_run(run):
    results = export(run, "int8")
    assert [r.format for r in results] == ["onnx-int8", "torchscript-int8"]
    for result in results:
        entry = _entry(run, result.format)
        assert result.passed, result.describe()
        assert entry["parity"]["max_abs_diff"] > 0  # int8 is not bit-exact, and the record says by how much
        path, _ = verified_export(read_bundle(run), result.format)
        assert path == result.path


def test_the_parity_gate_catches_a_broken_export(run, monkeypatch, cli):
    """An export that runs and has the right shape but answers differently (negated logits: every
    class ranking reversed) is written, recorded as failed, and never served."""
    from torchworks.engine.loading import load_model

    write_onnx = export_module.WRITERS["onnx"]

    def broken(model, tensors, names, axes, outputs, path):
        class Negated(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, *inputs):
                return -self.inner(*inputs)

        write_onnx(Negated(model), tensors, names, axes, outputs, path)

    monkeypatch.setitem(export_module.WRITERS, "onnx-int8", broken)  # int8 skips the example-batch match
    code, out, err = cli("export", str(run), "format=onnx-int8")
    assert code == 2, out + err
    assert "onnx-int8: failed (accuracy" in out and "failed the parity gate" in err and "Traceback" not in err
    entry = _entry(run, "onnx-int8")
    assert entry["status"] == "failed" and entry["parity"]["delta"] < -0.3
    bundle, _, _, model = load_model(run)
    with pytest.raises(BundleError, match="did not pass its parity gate"):
        choose_runner("onnx-int8", bundle, model, threads=1)
    path, _ = verified_export(bundle, "onnx-int8", allow_failed=True)  # still measurable by `benchmark`
    assert path.is_file()
    [tolerated] = export(run, "onnx-int8", tolerance=1.0)  # a user who accepts the drop says so
    assert tolerated.passed


def test_auto_serves_only_a_float_onnx_export_that_passed_its_gate(run):
    from torchworks.bundle.exports import record_export
    from torchworks.engine.loading import load_model

    bundle, _, _, model = load_model(run)
    assert choose_runner("auto", bundle, model, threads=1).name == "onnx"
    assert choose_runner("eager", bundle, model, threads=1).name == "eager"
    with pytest.raises(BundleError, match="no torchscript export"):
        choose_runner("torchscript", bundle, model, threads=1)
    record_export(bundle, "onnx", {"inputs": ["input"]})  # as written before the gate existed: unchecked
    assert choose_runner("auto", read_bundle(run), model, threads=1).name == "eager"


def test_a_float_export_that_does_not_reproduce_the_model_is_not_recorded(run, monkeypatch):
    monkeypatch.setattr(export_module, "MATCH_TOLERANCE", -1.0)  # nothing can pass
    with pytest.raises(BundleError, match="does not reproduce"):
        export(run, "torchscript")
    assert "torchscript" not in json.loads((run / "bundle.json").read_text())["exports"]
    assert not (run / "exports" / "model.torchscript.pt").exists()
    assert not list((run / "exports").glob(".*.tmp")) and not list((run / "exports").glob("*.float"))


def test_unknown_format_or_tolerance_has_a_hint(run):
    with pytest.raises(ConfigError, match="did you mean 'onnx'"):
        export(run, "onx")
    with pytest.raises(ConfigError, match="did you mean 'int8'"):
        export(run, "onnx,int9")
    with pytest.raises(ConfigError, match="must not be negative"):
        export(run, "onnx", tolerance=-0.1)


def test_cli_export(run, cli):
    code, out, err = cli("export", str(run), "format=torchscript")
    assert code == 0, err
    assert "torchscript: passed (accuracy" in out
    assert out.strip().splitlines()[-1] == f"exports: {run / 'exports'}"
    verified_export(read_bundle(run), "torchscript")
    for bad in (["fromat=onnx"], ["tolerance=abc"]):
        code, out, err = cli("export", str(run), *bad)
        assert code == 2 and "Traceback" not in err and "hint" in err.lower()
