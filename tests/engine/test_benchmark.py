"""The benchmark mode: eager against exports at batch 1 and 32, written as JSON, markdown and HTML."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import torch

from torchworks.engine.benchmark import benchmark
from torchworks.errors import ConfigError


@pytest.fixture
def run(image_run, tmp_path):
    return shutil.copytree(image_run, tmp_path / "run")  # carries a float ONNX export


def test_benchmark_measures_eager_and_each_export_with_fixed_threads(run):
    threads_before = torch.get_num_threads()
    result = benchmark(run, formats="onnx,torchscript", threads=1, seconds=0.05)
    assert torch.get_num_threads() == threads_before
    assert [row["format"] for row in result.rows] == ["eager", "onnx", "torchscript"]
    for row in result.rows:
        for key in ("b1_p50_ms", "b1_p99_ms", "b32_p50_ms", "b32_p99_ms", "throughput", "size_mb", "b1_speedup"):
            assert row[key] > 0, (row["format"], key)
        assert row["b1_p50_ms"] <= row["b1_p99_ms"] and row["b1_calls"] >= 10
        assert row["metric"] == pytest.approx(json.loads((run / "metrics.json").read_text())["accuracy"])
    assert result.rows[0]["b1_speedup"] == 1.0 and result.rows[1]["status"] == "passed"
    assert result.settings["threads"] == 1
    written = json.loads((run / "benchmark.json").read_text())
    assert written["rows"] == result.rows
    table = (run / "benchmark.md").read_text()
    assert "| torchscript | passed |" in table and "batch 1 vs eager" in table and "test accuracy" in table
    assert re.search(r"\| eager \| - \| [\d.]+ MB \| [\d.,]+ ms \| [\d.,]+ ms \| 1\.00x \|", table)
    page = (run / "benchmark.html").read_text()
    assert "data:image/png;base64," in page and "torchscript" in page
    # cells formatted for their column, as in the markdown: milliseconds, speed-ups, sizes
    assert "<td class='num'>1.00x</td>" in page and re.search(r"<td class='num'>[\d.,]+ ms</td>", page)
    assert re.search(r"<td class='num'>[\d.]+ MB</td>", page)


def test_missing_exports_are_made_first_or_reported(run):
    result = benchmark(run, formats="onnx,torchscript-int8", threads=1, seconds=0.02, make_exports=False)
    assert result.rows[-1] == {"format": "torchscript-int8", "status": "not exported",
                               "reason": "torchworks export RUN format=torchscript-int8 makes it"}
    result = benchmark(run, formats="torchscript-int8", threads=1, seconds=0.02)
    assert result.rows[-1]["format"] == "torchscript-int8" and result.rows[-1]["status"] in ("passed", "failed")
    import hashlib

    made = run / "exports" / "model.int8.torchscript.pt"
    entry = json.loads((run / "bundle.json").read_text())["exports"]["torchscript-int8"]
    assert entry["sha256"] == hashlib.sha256(made.read_bytes()).hexdigest() and entry["size_bytes"] == made.stat().st_size
    assert result.rows[-1]["status"] == entry["status"]


def test_only_exports_that_passed_their_gate_are_measured(run, monkeypatch):
    from torchworks.bundle.exports import record_export
    from torchworks.bundle.io import read_bundle
    from torchworks.engine import export as export_module

    def negated(model, tensors, names, axes, outputs, path):
        export_module.WRITERS["onnx"](_Negated(model), tensors, names, axes, outputs, path)

    monkeypatch.setitem(export_module.WRITERS, "onnx-int8", negated)
    result = benchmark(run, formats="onnx,onnx-int8", threads=1, seconds=0.02)  # exports onnx-int8 first
    onnx, int8 = result.rows[1:]
    assert onnx["status"] == "passed" and onnx["b1_p50_ms"] > 0
    assert int8["status"] == "failed" and int8["reason"].startswith("accuracy worse by") and "b1_p50_ms" not in int8
    assert int8["metric"] < onnx["metric"] - 0.3  # the gate's measurement of it, for the table
    again = benchmark(run, formats="onnx-int8", threads=1, seconds=0.02)  # not exported again, still listed
    assert again.rows[1] == int8
    # an export recorded as failed before failed files were removed: on disk, listed, never measured
    record_export(read_bundle(run), "onnx", {**read_bundle(run).manifest["exports"]["onnx"], "status": "failed"})
    old = benchmark(run, formats="onnx", threads=1, seconds=0.02, make_exports=False)
    assert old.rows[1] == {"format": "onnx", "status": "failed", "reason": "it did not pass its parity gate"}


class _Negated(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, *inputs):
        return -self.inner(*inputs)


def test_bad_settings_are_refused(run, cli):
    with pytest.raises(ConfigError):
        benchmark(run, threads=0)
    code, _, err = cli("benchmark", str(run), "thread=2")
    assert code == 2 and "did you mean 'threads'" in err
    code, _, err = cli("benchmark", str(run), "export=maybe")
    assert code == 2 and "yes or no" in err


def test_cli_benchmark_prints_the_table_and_where_it_is(run, cli):
    code, out, err = cli("benchmark", str(run), "formats=onnx", "threads=1", "seconds=0.02")
    assert code == 0, err
    assert "| eager | - |" in out and "| onnx | passed |" in out
    assert out.strip().splitlines()[-1].startswith(f"benchmark: {run / 'benchmark.md'}")
