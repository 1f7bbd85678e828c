"""The contract: every registered task goes through every mode it has, on tiny data.

Each task keeps its contract fixture beside its own tests, in ``tests/tasks/<task>/contract.py``
(the toy task in ``tests/toy/contract.py``): ``TASK`` (its name), ``make_data(request, scratch)`` (a
tiny dataset, as ``data=``), ``SETTINGS`` (tiny model settings), ``predict_inputs(data)`` (what to
feed ``predict``) and ``QUICKSTART`` (overrides that make its quickstart recipe quick). This suite
finds them; a registered task without one fails here, and so does a mode without a runner in
``MODE_RUNNERS``, so the contract can never silently skip anything.
"""

from __future__ import annotations

import importlib.util
import json
import math
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import torch

import torchworks
from torchworks.batches import count_rows
from torchworks.tasks import get_task, list_tasks

# Engine-level settings every task understands: tiny, offline, quiet.
ENGINE_TINY = {"epochs": 2, "batch_size": 8, "mlflow": False, "progress": False}
TESTS = Path(__file__).resolve().parents[1]


def _load_fixtures() -> dict[str, ModuleType]:
    fixtures = {}
    for path in sorted([*TESTS.glob("tasks/*/contract.py"), TESTS / "toy" / "contract.py"]):
        spec = importlib.util.spec_from_file_location(f"contract_{path.parent.name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        fixtures[module.TASK] = module
    return fixtures


FIXTURES = _load_fixtures()  # loading the toy's fixture registers the toy task


def _train(task_name: str, context: dict) -> None:
    task = get_task(task_name)
    settings = {
        **task.quickstart_settings(),
        **ENGINE_TINY,
        **FIXTURES[task_name].SETTINGS,
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
    size = count_rows(outputs)
    inputs = FIXTURES[task_name].predict_inputs(context["data"])
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
    first = FIXTURES[task_name].predict_inputs(context["data"])[:1]
    for method in task.explain_methods:
        # few integration steps; and a low score threshold where the task has one (a model trained two
        # epochs on tiny data scores everything low)
        options = {key: value for key, value in (("steps", "4"), ("conf", "0.001")) if key in task.explain_options}
        explanations = explain_items(task, model, bundle.state, first, method=method, options=options)
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
        assert entry["max_rel_diff"] <= 1e-4, f"{task_name}/{result.format} differs from eager by {entry['max_rel_diff']}"
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
    from torchworks.bundle.exports import export_path

    for row in result.rows:
        file = context["run"] / "model.safetensors" if row["format"] == "eager" else export_path(context["run"],
                                                                                                  row["format"])
        assert row["size_mb"] == round(file.stat().st_size / 2**20, 2), row
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
    assert spec.input_kind in ("image", "audio", "text", "table", "query"), spec.input_kind
    with TestClient(build_app(models, settings, metrics), base_url="http://127.0.0.1:8080") as client:
        assert client.get("/readyz").status_code == 200
        for item in FIXTURES[task_name].predict_inputs(context["data"]):
            path = Path(item) if isinstance(item, str) else None
            if path is not None and path.exists():
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


def _quickstart(task_name: str, context: dict) -> None:
    """The task's built-in recipe on its bundled sample, shortened by the fixture's overrides: it
    resolves, trains, evaluates and writes a bundle that loads."""
    from torchworks.engine.quickstart import quickstart, summary_rows

    overrides = {"mlflow": False, "progress": False, "output": str(context["output"] / "quickstart"),
                 **FIXTURES[task_name].QUICKSTART}
    (result,) = quickstart(task_name, overrides)
    assert (result.path / "bundle.json").is_file() and result.path.name.startswith("quickstart")
    (row,) = summary_rows([result])
    assert row["task"] == task_name and math.isfinite(row["value"]), row
    assert torchworks.load(result.path).bundle.task == task_name


# in the order they run: later modes use the bundle that train wrote
MODE_RUNNERS: dict[str, Callable[[str, dict], None]] = {
    "train": _train,
    "evaluate": _evaluate,
    "predict": _predict,
    "explain": _explain,
    "export": _export,
    "benchmark": _benchmark,
    "serve": _serve,
    "quickstart": _quickstart,
}

TASK_NAMES = [cls.name for cls in list_tasks()]
assert "toy-points" in TASK_NAMES


def test_some_task_is_registered():
    assert TASK_NAMES, "no task registered"


@pytest.mark.parametrize("task_name", TASK_NAMES)
def test_task_has_a_contract_fixture_and_the_modes_every_task_has(task_name):
    assert task_name in FIXTURES, f"add tests/tasks/<task>/contract.py for '{task_name}'"
    assert {"train", "evaluate", "predict", "quickstart"} <= set(get_task(task_name).modes)


@pytest.mark.parametrize("task_name", TASK_NAMES)
def test_modes_follow_from_capabilities(task_name):
    from torchworks.tasks.protocol import Explainable, Exportable, Servable

    task = get_task(task_name)
    assert ("explain" in task.modes) == isinstance(task, Explainable)
    assert ("export" in task.modes) == ("benchmark" in task.modes) == isinstance(task, Exportable)
    assert ("serve" in task.modes) == isinstance(task, Servable)
    if isinstance(task, Explainable):
        assert task.explain_methods and len(set(task.explain_methods)) == len(task.explain_methods)


@pytest.mark.parametrize("task_name", TASK_NAMES)
def test_every_declared_mode_runs(task_name, tmp_path, request):
    task = get_task(task_name)
    missing = [mode for mode in task.modes if mode not in MODE_RUNNERS]
    assert not missing, f"'{task_name}' declares modes the contract cannot run yet: {missing}"
    assert task_name in FIXTURES, f"add tests/tasks/<task>/contract.py for '{task_name}'"

    context = {"data": FIXTURES[task_name].make_data(request, tmp_path / "data"), "output": tmp_path / "runs"}
    for mode in (m for m in MODE_RUNNERS if m in task.modes):
        MODE_RUNNERS[mode](task_name, context)
