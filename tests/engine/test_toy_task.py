"""The unchanged engine and server on the toy task (tests/toy/toy_task.py), which trains through its own
step and answers with a dict of two outputs: what the platform promises beyond ``loss(model(x), y)``
and one float tensor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import torchworks

@pytest.fixture(scope="module")
def toy_run(tmp_path_factory, toy_task) -> Path:
    root = tmp_path_factory.mktemp("toy")
    data = toy_task.make_points(root / "points.csv", n=300, seed=1)
    result = torchworks.train("toy-points", data=str(data), output=str(root / "runs"), name="toy", epochs=30,
                              batch_size=16, lr=0.03, hidden=16, mlflow=False, progress=False, seed=0)
    return result.path


def test_the_task_step_trains_and_its_logged_parts_reach_the_history(toy_run):
    manifest = json.loads((toy_run / "bundle.json").read_text())
    history = manifest["history"]
    assert len(history) == 30
    for key in ("train_loss", "train_class_loss", "train_distance_loss", "val_loss", "val_class_loss",
                "val_distance_loss"):
        assert key in history[-1], (key, sorted(history[-1]))
    # the step's loss is its parts' weighted sum, and it fell while training
    last = history[-1]
    assert last["val_loss"] == pytest.approx(last["val_class_loss"] + last["val_distance_loss"], rel=1e-4)
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_streaming_evaluation_gives_the_metrics_of_the_whole_test_split(toy_run):
    metrics = json.loads((toy_run / "metrics.json").read_text())
    assert metrics["test_samples"] == 300 - int(300 * 0.85)  # the toy's last 15%
    assert metrics["accuracy"] > 0.8 and metrics["distance_mae"] < 0.25, metrics
    # the same numbers again from evaluate, recomputed batch by batch from the bundle
    assert torchworks.evaluate(toy_run).metrics["accuracy"] == metrics["accuracy"]


def test_predictions_of_a_dict_output_model_are_joined_across_batches(toy_run):
    predictor = torchworks.load(toy_run)
    points = [[0.0, 0.0], [1.4, 1.4], [0.2, -0.1], [-1.3, 0.9], [0.5, 0.5]]
    records = predictor.predict(points, batch_size=2)  # three batches of dicts
    assert [r["input"] for r in records] == ["(0, 0)", "(1.4, 1.4)", "(0.2, -0.1)", "(-1.3, 0.9)", "(0.5, 0.5)"]
    assert [r["label"] for r in records] == ["inside", "outside", "inside", "outside", "inside"]
    one_by_one = [predictor.predict([point], batch_size=1)[0] for point in points]
    assert [r["distance"] for r in records] == pytest.approx([r["distance"] for r in one_by_one], abs=1e-6)
    assert records[1]["distance"] > records[4]["distance"] > records[2]["distance"]  # farther out, larger


def test_an_export_keeps_every_named_output_and_gives_back_the_dict(toy_run, tmp_path):
    import shutil

    import onnx

    from torchworks.bundle.io import read_bundle
    from torchworks.engine.loading import load_model
    from torchworks.engine.runners import choose_runner

    run = tmp_path / "toy"
    shutil.copytree(toy_run, run)
    (result,) = torchworks.export(run, "onnx")
    assert result.passed and result.entry["outputs"] == {"kind": "dict", "names": ["logits", "distance"]}
    graph = onnx.load(str(result.path)).graph
    assert [output.name for output in graph.output] == ["logits", "distance"]
    bundle, _, _, model = load_model(run)
    runner = choose_runner("onnx", read_bundle(run), model, threads=1)
    points = torch.tensor([[0.1, 0.2], [1.2, -1.1], [0.0, 0.9]])
    got, want = runner(points), model(points)
    assert set(got) == {"logits", "distance"} and got["distance"].shape == (3,)
    assert torch.allclose(got["logits"], want["logits"], atol=1e-4)
    assert torch.allclose(got["distance"], want["distance"], atol=1e-4)


def test_the_server_batches_requests_of_a_dict_output_model_and_each_gets_its_own_rows(toy_run):
    import concurrent.futures

    from fastapi.testclient import TestClient

    from torchworks.server.app import build_app
    from torchworks.server.settings import ServeSettings
    from torchworks.server.startup import load_models

    settings = ServeSettings(max_wait_ms=20.0, max_batch=8)
    models, metrics = load_models([f"toy={toy_run}"], settings)
    points = [[0.1 * i, -0.05 * i] for i in range(12)]
    with TestClient(build_app(models, settings, metrics), base_url="http://127.0.0.1:8080") as client:
        def ask(point):
            response = client.post("/v1/models/toy/predict", json={"inputs": [point]})
            assert response.status_code == 200, response.text
            return response.json()["predictions"][0]

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(ask, points))
        assert [a["input"] for a in answers] == [f"({x:g}, {y:g})" for x, y in points]
        alone = torchworks.load(toy_run).predict(points)
        assert [a["distance"] for a in answers] == pytest.approx([r["distance"] for r in alone], abs=1e-5)
        bad = client.post("/v1/models/toy/predict", json={"inputs": [[0.1]]})
        assert bad.status_code == 422 and set(bad.json()) >= {"error", "message"}
