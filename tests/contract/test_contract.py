"""The contract: every registered task goes through every mode it declares, on tiny data.

A new task adds one row to ``TINY_DATA`` (how to make a tiny dataset, task-specific tiny settings and
what to feed ``predict``). A new mode adds one runner to ``MODE_RUNNERS``. A task or a mode without
its row fails here, so the contract can never silently skip anything.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch

import torchworks
from torchworks.tasks import get_task, list_tasks

# Engine-level settings every task understands: tiny, offline, quiet.
ENGINE_TINY = {"epochs": 2, "batch_size": 8, "track": False, "progress": False}


@dataclass
class TinyData:
    """How to run one task on tiny data."""

    make_data: Callable[[pytest.FixtureRequest, Path], Path]  # (request, scratch folder) -> data=
    settings: dict[str, Any] = field(default_factory=dict)
    predict_inputs: Callable[[Path], list[Any]] = lambda data: [str(data)]


def _tiny_series(request: pytest.FixtureRequest, scratch: Path) -> Path:
    """Two weekly series of 120 steps with a season and a covariate, as a CSV."""
    import numpy as np
    import pandas as pd

    scratch.mkdir(parents=True, exist_ok=True)
    steps = np.arange(120)
    frames = [
        pd.DataFrame({
            "week": pd.date_range("2020-01-04", periods=120, freq="W-SAT"),
            "store": store,
            "sales": 50 + 10 * store + 5 * np.sin(2 * np.pi * steps / 13) + steps * 0.1,
            "promo": (steps % 5 == 0).astype(int),
        })
        for store in (1, 2)
    ]
    path = scratch / "sales.csv"
    pd.concat(frames).to_csv(path, index=False)
    return path


def _tiny_texts(request: pytest.FixtureRequest, scratch: Path) -> Path:
    """Three classes of short texts, each with its own words, as a CSV."""
    scratch.mkdir(parents=True, exist_ok=True)
    words = {"billing": "refund invoice charged card", "shipping": "parcel courier tracking late",
             "account": "password login email locked"}
    lines = ["text,label"]
    for i in range(36):
        label = list(words)[i % 3]
        lines.append(f"{' '.join(words[label].split()[i % 4:] + ['please', str(i % 5)])},{label}")
    path = scratch / "texts.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _tiny_speech(request: pytest.FixtureRequest, scratch: Path) -> Path:
    """Sixteen clips of spoken digit words (espeak-ng) with a manifest."""
    return request.getfixturevalue("write_spoken_words")(scratch)


TINY_DATA: dict[str, TinyData] = {
    "forecasting": TinyData(
        make_data=_tiny_series,
        settings={"time": "week", "target": "sales", "series_id": "store", "covariates": "promo",
                  "lookback": 16, "horizon": 4, "season": 13, "model": "gru", "hidden": 16,
                  "quantiles": "0.1,0.5,0.9"},
        predict_inputs=lambda data: [str(data)],
    ),
    "image-classification": TinyData(
        make_data=lambda request, scratch: request.getfixturevalue("shapes_dir"),
        settings={"model": "smallcnn", "image_size": 16, "crop": 1.0},
        predict_inputs=lambda data: [str(data / "circle" / "000.png"), str(data / "square")],
    ),
    "text-classification": TinyData(
        make_data=_tiny_texts,
        settings={"model": "bigru", "embedding_dim": 16, "hidden": 16, "layers": 1, "freeze": "none"},
        predict_inputs=lambda data: ["my parcel is late", str(data)],
    ),
    "speech-recognition": TinyData(
        make_data=_tiny_speech,
        settings={"hidden": 16, "layers": 1, "beam_width": 2},
        predict_inputs=lambda data: [str(data.parent / "clips" / "0.wav"), str(data.parent / "clips")],
    ),
}


def _train(task_name: str, context: dict) -> None:
    task = get_task(task_name)
    tiny = TINY_DATA[task_name]
    settings = {
        **task.quickstart_settings(),
        **ENGINE_TINY,
        **tiny.settings,
        "data": str(context["data"]),
        "output": str(context["output"]),
        "name": "contract",
    }
    result = torchworks.train(task_name, **settings)
    run = result.path
    for name in ("model.safetensors", "bundle.json", "metrics.json", "report.html"):
        assert (run / name).is_file(), f"{task_name}: train wrote no {name}"
    assert task.primary_metric in result.metrics, f"{task_name}: no primary metric '{task.primary_metric}'"
    assert json.loads((run / "metrics.json").read_text())[task.primary_metric] == pytest.approx(
        result.metrics[task.primary_metric], nan_ok=True
    )
    assert json.loads((run / "bundle.json").read_text())["task"] == task_name
    context["run"] = run
    context["metrics"] = result.metrics


def _evaluate(task_name: str, context: dict) -> None:
    task = get_task(task_name)
    run = context["run"]
    (run / "metrics.json").unlink()
    result = torchworks.evaluate(run)
    written = json.loads((run / "metrics.json").read_text())
    primary = task.primary_metric
    assert written[primary] == pytest.approx(context["metrics"][primary], nan_ok=True), (
        f"{task_name}: evaluate disagrees with train on the same bundle and test split"
    )
    assert result.metrics[primary] == pytest.approx(written[primary], nan_ok=True)


def _predict(task_name: str, context: dict) -> None:
    task = get_task(task_name)
    predictor = torchworks.load(context["run"])

    # the task's own example batch, through the bundled model and the task's encoder
    example = task.example_input(predictor.bundle.state)
    with torch.inference_mode():
        outputs = predictor.model(example)
    size = len(outputs)
    inputs = TINY_DATA[task_name].predict_inputs(context["data"])
    _, ids = task.predict_inputs(inputs, predictor.bundle.state)  # ids are the task's own, whatever they hold
    ids = (ids * size)[:size]
    records = task.format_predictions(outputs, ids, predictor.bundle.state, 3)
    assert records and all("input" in r for r in records), "every record names the input it came from"
    json.dumps(records)

    # real inputs, as a user passes them
    records = predictor.predict(inputs)
    assert records, f"{task_name}: predict returned nothing for {inputs}"
    text = json.dumps(records)
    assert "NaN" not in text and "Infinity" not in text
    for record in records:
        for value in record.values():
            if isinstance(value, float):
                assert math.isfinite(value)


def _explain(task_name: str, context: dict) -> None:
    """Every declared method on the first predict input, through the loaded model (as the server
    would call it); then the default method through ``torchworks.explain``, which writes the files."""
    from torchworks.engine.explain import explain_items
    from torchworks.engine.loading import load_model

    bundle, task, _, model = load_model(context["run"])
    assert task.explain_methods, f"{task_name} declares the explain mode but no explain method"
    first = TINY_DATA[task_name].predict_inputs(context["data"])[:1]
    for method in task.explain_methods:
        explanations = explain_items(task, model, bundle.state, first, method=method,
                                     options={"steps": "4"} if "steps" in task.explain_options else {})
        assert explanations, f"{task_name}/{method}: no explanation for {first}"
        for explanation in explanations:
            record = explanation.record
            assert {"input", "prediction", "method", "target", "attributions"} <= set(record), record.keys()
            assert record["method"] == method and record["attributions"]
            text = json.dumps(record)
            assert "NaN" not in text and "Infinity" not in text
            assert explanation.figures or explanation.html, f"{task_name}/{method}: nothing to look at"
            assert all(png[:4] == b"\x89PNG" for png in explanation.figures.values())
    assert not model.training and not any(m._forward_hooks for m in model.modules())
    result = torchworks.explain(context["run"], first, output=context["output"] / "explained")
    assert result.method == task.explain_methods[0] and result.records
    assert (result.path / "explanations.json").is_file() and (result.path / "explanation.html").is_file()


def _export(task_name: str, context: dict) -> None:
    """Float ONNX and TorchScript: each reproduces the eager model on the example batch, passes the
    parity gate on the test split, and is recorded in ``bundle.json`` with its checks."""
    from torchworks.bundle.exports import passed_gate, verified_export
    from torchworks.bundle.io import read_bundle

    results = torchworks.export(context["run"], "onnx,torchscript", tolerance=0.05)
    assert [r.format for r in results] == ["onnx", "torchscript"]
    bundle = read_bundle(context["run"])
    for result in results:
        entry = bundle.manifest["exports"][result.format]
        assert result.passed and passed_gate(entry), f"{task_name}/{result.format}: {entry}"
        assert entry["max_abs_diff"] <= 1e-4, f"{task_name}/{result.format} differs from eager by {entry['max_abs_diff']}"
        assert {"metric", "eager", "export", "delta", "test_samples"} <= set(entry["parity"])
        assert verified_export(bundle, result.format)[0].is_file()


def _benchmark(task_name: str, context: dict) -> None:
    """Eager and the exports just made, measured briefly at batch 1 and 32; a table and a page."""
    result = torchworks.benchmark(context["run"], formats="onnx,torchscript", threads=1, seconds=0.05,
                                  make_exports=False)
    formats = [row["format"] for row in result.rows]
    assert formats == ["eager", "onnx", "torchscript"], result.rows
    for row in result.rows:
        assert row["b1_p50_ms"] > 0 and row["b1_p99_ms"] >= row["b1_p50_ms"] and row["throughput"] > 0, row
        assert row["size_mb"] >= 0
    assert result.path.is_file() and (result.path.parent / "benchmark.html").is_file()


def _serve(task_name: str, context: dict) -> None:
    """The bundle behind the HTTP app: each predict input sent as a user's client would send it (files
    as multipart uploads, texts as JSON), answers typed by the task's record model."""
    from fastapi.testclient import TestClient

    from torchworks.server.startup import load_models
    from torchworks.server.app import build_app
    from torchworks.server.settings import ServeSettings

    settings = ServeSettings(max_wait_ms=1.0)
    models, metrics = load_models([f"contract={context['run']}"], settings)
    spec = models[0].spec
    assert spec.input_kind in ("image", "audio", "text", "table"), spec.input_kind
    with TestClient(build_app(models, settings, metrics), base_url="http://127.0.0.1:8080") as client:
        assert client.get("/readyz").status_code == 200
        for item in TINY_DATA[task_name].predict_inputs(context["data"]):
            path = Path(item)
            if path.exists():
                files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix in spec.file_types)
                response = client.post("/v1/models/contract/predict",
                                       files=[("file", (f.name, f.read_bytes())) for f in files[:3]])
            else:
                assert spec.json_item is not None, f"{task_name}: a non-file input, but the model takes only files"
                response = client.post("/v1/models/contract/predict", json={"inputs": [item]})
            assert response.status_code == 200, f"{task_name}: {response.text[:500]}"
            assert response.json()["predictions"], f"{task_name}: no predictions for {item}"
        if spec.example is not None:
            assert client.post("/v1/models/contract/predict", json={"inputs": [spec.example]}).status_code == 200
        assert client.get("/ui").status_code == 200
        assert "/v1/models/contract/predict" in client.get("/openapi.json").json()["paths"]


# in the order they run: later modes use the bundle that train wrote
MODE_RUNNERS: dict[str, Callable[[str, dict], None]] = {
    "train": _train,
    "evaluate": _evaluate,
    "predict": _predict,
    "explain": _explain,
    "export": _export,
    "benchmark": _benchmark,
    "serve": _serve,
}

TASK_NAMES = [cls.name for cls in list_tasks()]


def test_some_task_is_registered():
    assert TASK_NAMES, "no task registered"


@pytest.mark.parametrize("task_name", TASK_NAMES)
def test_task_has_a_tiny_data_recipe_and_declares_train(task_name):
    assert task_name in TINY_DATA, f"add a TINY_DATA row for '{task_name}' to tests/contract/test_contract.py"
    assert "train" in get_task(task_name).modes


@pytest.mark.parametrize("task_name", TASK_NAMES)
def test_a_task_declares_the_explain_mode_exactly_when_it_has_explain_methods(task_name):
    task = get_task(task_name)
    assert ("explain" in task.modes) == bool(task.explain_methods), task.explain_methods
    assert len(set(task.explain_methods)) == len(task.explain_methods)


@pytest.mark.parametrize("task_name", TASK_NAMES)
def test_every_declared_mode_runs(task_name, tmp_path, request):
    task = get_task(task_name)
    missing = [mode for mode in task.modes if mode not in MODE_RUNNERS]
    assert not missing, f"'{task_name}' declares modes the contract cannot run yet: {missing}"
    assert task_name in TINY_DATA, f"add a TINY_DATA row for '{task_name}'"

    context = {"data": TINY_DATA[task_name].make_data(request, tmp_path / "data"), "output": tmp_path / "runs"}
    for mode in (m for m in MODE_RUNNERS if m in task.modes):
        MODE_RUNNERS[mode](task_name, context)
