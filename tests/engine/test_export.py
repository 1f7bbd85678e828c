"""The export mode: ONNX and TorchScript files that reproduce the eager model, recorded in bundle.json."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from torchworks.bundle.exports import verified_export
from torchworks.bundle.io import read_bundle
from torchworks.engine.export import export
from torchworks.errors import BundleError, ConfigError
from torchworks.server.backends import choose_runner, load_runner_file


@pytest.fixture
def run(image_run, tmp_path):
    return shutil.copytree(image_run, tmp_path / "run")


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_exports_match_eager_on_other_batch_sizes(run, fmt):
    from torchworks.engine.predict import load_model

    path = export(run, fmt)
    entry = json.loads((run / "bundle.json").read_text())["exports"][fmt]
    assert entry["max_abs_diff"] <= 1e-4 and entry["inputs"] == ["input"] and len(entry["sha256"]) == 64
    bundle, task, _, model = load_model(run)
    runner = load_runner_file(fmt, path, entry["inputs"], threads=1)
    batch = torch.randn(5, *task.example_input(bundle.state).shape[1:])  # a batch size never exported
    with torch.no_grad():
        expected = model(batch)
    assert (runner(batch) - expected).abs().max() < 1e-4


def test_auto_backend_prefers_a_verified_onnx_export(run):
    from torchworks.engine.predict import load_model

    bundle, _, _, model = load_model(run)
    assert choose_runner("auto", bundle, model, threads=1).name == "onnx"
    assert choose_runner("eager", bundle, model, threads=1).name == "eager"
    with pytest.raises(BundleError, match="no torchscript export"):
        choose_runner("torchscript", bundle, model, threads=1)


def test_an_export_that_does_not_reproduce_the_model_is_not_recorded(run, monkeypatch):
    from torchworks.engine import export as export_module

    monkeypatch.setattr(export_module, "MATCH_TOLERANCE", -1.0)  # nothing can pass
    with pytest.raises(BundleError, match="does not reproduce"):
        export(run, "torchscript")
    assert "torchscript" not in json.loads((run / "bundle.json").read_text())["exports"]
    assert not (run / "exports" / "model.torchscript.pt").exists()
    assert not list((run / "exports").glob(".*.tmp"))


def test_unknown_format_has_a_hint(run):
    with pytest.raises(ConfigError, match="did you mean 'onnx'"):
        export(run, "onx")


def test_cli_export(run):
    from typer.testing import CliRunner

    from torchworks.cli.main import app

    result = CliRunner().invoke(app, ["export", str(run), "format=torchscript"])
    assert result.exit_code == 0 and "model.torchscript.pt" in result.output
    verified_export(read_bundle(run), "torchscript")
    bad = CliRunner().invoke(app, ["export", str(run), "fromat=onnx"])
    assert bad.exit_code != 0
