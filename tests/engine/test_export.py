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
from torchworks.engine.export import check_results, export
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


def _negated(model, tensors, names, axes, outputs, path):
    """An export that runs and has the right shape but answers differently: negated logits, every class
    ranking reversed."""
    class Negated(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *inputs):
            return -self.inner(*inputs)

    WRITE_ONNX(Negated(model), tensors, names, axes, outputs, path)


def _batch_bound(model, tensors, names, axes, outputs, path):
    """A TorchScript file that only runs at the example's batch size (as a traced int8 CRNN does)."""
    class Fixed(torch.nn.Module):
        def __init__(self, inner, batch):
            super().__init__()
            self.inner, self.batch = inner, batch

        def forward(self, *inputs):
            return self.inner(*inputs).reshape(self.batch, -1)

    WRITE_TORCHSCRIPT(Fixed(model, tensors[0].shape[0]), tensors, names, axes, outputs, path)


WRITE_ONNX = export_module.WRITERS["onnx"]
WRITE_TORCHSCRIPT = export_module.WRITERS["torchscript"]


def test_the_parity_gate_catches_a_broken_export_and_keeps_no_file(run, monkeypatch, cli):
    """A named format that fails its gate: exit 2, no file in exports/ (an earlier one of that format is
    removed too), the numbers and the reason in bundle.json, never served."""
    from torchworks.engine.loading import load_model

    [good] = export(run, "onnx-int8")
    assert good.passed and good.path.is_file()
    monkeypatch.setitem(export_module.WRITERS, "onnx-int8", _negated)  # int8 skips the example-batch match
    code, out, err = cli("export", str(run), "format=onnx-int8")
    assert code == 2, out + err
    assert "onnx-int8: failed (accuracy" in out and "not kept" in out and "Traceback" not in err
    assert "onnx-int8 failed the parity gate; no file was kept" in err
    manifest = json.loads((run / "bundle.json").read_text())
    assert "onnx-int8" not in manifest["exports"] and not good.path.exists()
    assert sorted(p.name for p in (run / "exports").iterdir()) == ["model.onnx"]
    record = manifest["export_results"]["onnx-int8"]
    assert record["status"] == "failed" and record["delta"] < -0.3 and record["tolerance"] == 0.01
    assert record["reason"].startswith("accuracy worse by") and "tolerance 0.01" in record["reason"]
    bundle, _, _, model = load_model(run)
    with pytest.raises(BundleError, match="no onnx-int8 export"):
        choose_runner("onnx-int8", bundle, model, threads=1)
    [tolerated] = export(run, "onnx-int8", tolerance=1.0)  # a user who accepts the drop says so
    assert tolerated.passed and tolerated.path.is_file()
    assert json.loads((run / "bundle.json").read_text())["export_results"]["onnx-int8"]["status"] == "passed"


def test_format_all_keeps_what_passes_lists_what_did_not_and_exits_0(run, monkeypatch, cli):
    monkeypatch.setitem(export_module.WRITERS, "onnx-int8", _negated)
    monkeypatch.setitem(export_module.WRITERS, "torchscript-int8", _batch_bound)
    code, out, err = cli("export", str(run), "format=all")
    assert code == 0, out + err
    lines = out.splitlines()
    table = lines[lines.index("") + 1:]
    assert table[0].split()[:4] == ["format", "status", "eager", "accuracy"]
    statuses = {line.split()[0]: line.split()[1] for line in table[1:5]}
    assert statuses == {"onnx": "passed", "torchscript": "passed", "onnx-int8": "failed", "torchscript-int8": "skipped"}
    assert any(line.startswith("onnx-int8 failed: accuracy worse by") for line in table)
    assert any(line.startswith("torchscript-int8 skipped: the torchscript-int8 export") and "fails on the test split"
               in line for line in table)
    assert lines[-1] == f"exports: {run / 'exports'} (onnx, torchscript)"
    assert sorted(p.name for p in (run / "exports").iterdir()) == ["model.onnx", "model.torchscript.pt"]
    results = json.loads((run / "bundle.json").read_text())["export_results"]
    assert {fmt: r["status"] for fmt, r in results.items()} == statuses
    assert results["torchscript-int8"]["reason"] and "export" not in results["torchscript-int8"]
    assert set(json.loads((run / "bundle.json").read_text())["exports"]) == {"onnx", "torchscript"}


def test_a_format_that_cannot_be_made_is_refused_when_named(run, monkeypatch, cli):
    monkeypatch.setitem(export_module.WRITERS, "torchscript-int8", _batch_bound)
    code, out, err = cli("export", str(run), "format=torchscript-int8")
    assert code == 2 and "Traceback" not in err
    assert "the torchscript-int8 export of" in err and "fails on the test split's batches" in err
    assert "torchscript-int8: skipped (" in out
    assert not (run / "exports" / "model.int8.torchscript.pt").exists()
    assert not list((run / "exports").glob(".*"))
    # named next to a format that passes, it still fails the command; that other export is kept
    code, out, err = cli("export", str(run), "format=torchscript,torchscript-int8")
    assert code == 2 and "fails on the test split's batches" in err
    assert (run / "exports" / "model.torchscript.pt").is_file()


@pytest.mark.parametrize("trained", ["driven_run", "speech_run"])
def test_format_all_on_trained_task_models_keeps_exactly_what_passed(trained, request, tmp_path, cli):
    """A forecaster and a CTC speech model (whose int8 exports may fail or not run): every format ends
    with a recorded outcome, exports/ holds exactly those that passed, and the exit code follows."""
    from torchworks.bundle.exports import EXPORT_FILES

    run = shutil.copytree(request.getfixturevalue(trained), tmp_path / "run")
    code, out, err = cli("export", str(run), "format=all")
    manifest = json.loads((run / "bundle.json").read_text())
    results = manifest["export_results"]
    assert list(results) == list(EXPORT_FILES) and "Traceback" not in err
    passed = {fmt for fmt, result in results.items() if result["status"] == "passed"}
    assert code == (0 if passed else 2), out + err
    assert {path.name for path in (run / "exports").iterdir()} == {EXPORT_FILES[fmt] for fmt in passed}
    assert set(manifest["exports"]) == passed
    for fmt, result in results.items():
        assert result["status"] in ("passed", "failed", "skipped")
        assert bool(result["reason"]) == (result["status"] != "passed"), (fmt, result)
        assert f"{fmt} {result['status']}" in " ".join(out.split())


def test_check_results_needs_one_export_that_passed():
    from torchworks.engine.export import ExportResult, check_results

    failed = {"status": "failed", "reason": "accuracy worse by 0.5", "metric": "accuracy", "eager": 0.9,
              "export": 0.4, "tolerance": 0.01}
    skipped = {"status": "skipped", "reason": "cannot be made"}
    with pytest.raises(BundleError, match="no export passed.*onnx-int8 failed: accuracy worse by 0.5; "
                                          "torchscript-int8 skipped: cannot be made"):
        check_results([ExportResult("onnx-int8", "failed", failed), ExportResult("torchscript-int8", "skipped",
                                                                                  skipped)], "int8")


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


def test_a_float_export_that_does_not_reproduce_the_model_is_skipped(run, monkeypatch):
    monkeypatch.setattr(export_module, "MATCH_TOLERANCE", -1.0)  # nothing can pass
    [result] = export(run, "torchscript")
    assert result.status == "skipped" and "does not reproduce" in result.reason and result.path is None
    assert "torchscript" not in json.loads((run / "bundle.json").read_text())["exports"]
    assert not (run / "exports" / "model.torchscript.pt").exists()
    assert not list((run / "exports").glob(".*.tmp")) and not list((run / "exports").glob("*.float"))
    with pytest.raises(BundleError, match="does not reproduce"):
        check_results([result], "torchscript")


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
    assert out.strip().splitlines()[-1] == f"exports: {run / 'exports'} (torchscript)"
    verified_export(read_bundle(run), "torchscript")
    for bad in (["fromat=onnx"], ["tolerance=abc"]):
        code, out, err = cli("export", str(run), *bad)
        assert code == 2 and "Traceback" not in err and "hint" in err.lower()
