"""End to end through the Python API: train -> bundle on disk -> load/predict -> evaluate, and MLflow tracking."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import torchworks

TASK = "image-classification"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _train(data: Path, settings: dict, **overrides):
    return torchworks.train(TASK, data=str(data), **{**settings, **overrides})


def _is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC


def test_train_writes_a_complete_bundle(shapes_dir, tiny_settings):
    result = _train(shapes_dir, tiny_settings)

    run = result.path
    assert run.parent == Path(tiny_settings["output"]) / TASK
    for name in ("model.safetensors", "bundle.json", "metrics.json", "report.html"):
        assert (run / name).is_file(), name

    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(result.metrics))
    for key in ("accuracy", "macro_f1", "auroc"):
        assert isinstance(metrics[key], float) and 0.0 <= metrics[key] <= 1.0, key
    assert set(metrics["per_class"]) == {"circle", "square", "stripes"}
    for row in metrics["per_class"].values():
        assert {"precision", "recall", "f1", "support"} <= set(row)
    assert sum(row["support"] for row in metrics["per_class"].values()) == metrics["test_samples"]
    svc = metrics["baselines"]["svc_pixels"]
    assert 0.0 <= svc["accuracy"] <= 1.0 and "macro_f1" in svc

    manifest = json.loads((run / "bundle.json").read_text())
    assert manifest["task"] == TASK
    assert manifest["state"]["labels"] == ["circle", "square", "stripes"]
    assert [row["epoch"] for row in manifest["history"]] == [1, 2]

    assert _is_png(run / "plots" / "training_curves.png")
    assert _is_png(run / "plots" / "confusion_matrix.png")


def test_report_is_self_contained(shapes_dir, tiny_settings):
    run = _train(shapes_dir, tiny_settings).path

    page = (run / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page
    assert page.count("data:image/png;base64,") >= len(list((run / "plots").glob("*.png")))
    external = re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//[^"'\s>]*""", page, flags=re.I)
    assert external == []
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", page, flags=re.I)
    assert not re.search(r"@import", page, flags=re.I)


def test_identical_second_run_gets_a_new_folder_and_never_overwrites(shapes_dir, tiny_settings):
    first = _train(shapes_dir, tiny_settings, name="exp")
    before = {p.relative_to(first.path): p.read_bytes() for p in first.path.rglob("*") if p.is_file()}

    second = _train(shapes_dir, tiny_settings, name="exp")

    assert first.path.name == "exp"
    assert second.path.name == "exp-2"
    assert second.path.parent == first.path.parent
    after = {p.relative_to(first.path): p.read_bytes() for p in first.path.rglob("*") if p.is_file()}
    assert after == before
    assert (second.path / "bundle.json").is_file()


def test_load_predicts_files_and_folders(shapes_dir, tiny_settings):
    run = _train(shapes_dir, tiny_settings).path
    one_file = shapes_dir / "circle" / "000.png"
    folder = shapes_dir / "square"

    predictor = torchworks.load(run)
    records = predictor.predict([str(one_file), str(folder)])

    assert len(records) == 1 + len(list(folder.glob("*.png")))
    assert records[0]["input"] == str(one_file)
    assert {r["input"] for r in records[1:]} == {str(p) for p in folder.glob("*.png")}
    labels = {"circle", "square", "stripes"}
    for record in records:
        assert record["label"] in labels
        assert 0.0 <= record["probability"] <= 1.0
        top = record["top_k"]
        assert len(top) == 3
        assert top[0] == {"label": record["label"], "probability": record["probability"]}
        assert [t["probability"] for t in top] == sorted((t["probability"] for t in top), reverse=True)
        assert {t["label"] for t in top} == labels
        assert sum(t["probability"] for t in top) == pytest.approx(1.0, abs=1e-4)
    json.dumps(records)  # JSON-ready as promised


def test_evaluate_rewrites_metrics_plots_and_report(shapes_dir, tiny_settings):
    result = _train(shapes_dir, tiny_settings)
    run = result.path
    (run / "metrics.json").write_text("{}")
    (run / "report.html").unlink()
    (run / "plots" / "confusion_matrix.png").unlink()

    evaluated = torchworks.evaluate(run)

    metrics = json.loads((run / "metrics.json").read_text())
    assert evaluated.path == run
    for key in ("accuracy", "macro_f1", "auroc"):
        assert metrics[key] == pytest.approx(result.metrics[key]), key
    assert metrics["per_class"] == result.metrics["per_class"]
    assert metrics["test_samples"] == result.metrics["test_samples"]
    assert metrics["baselines"] == result.metrics["baselines"]
    assert (run / "report.html").is_file()
    assert _is_png(run / "plots" / "confusion_matrix.png")


def test_binary_dataset_gets_a_roc_curve(shapes_dir, tiny_settings, tmp_path):
    binary = tmp_path / "binary"
    for label in ("circle", "square"):
        shutil.copytree(shapes_dir / label, binary / label)

    result = _train(binary, tiny_settings)

    assert _is_png(result.path / "plots" / "roc_curve.png")
    assert isinstance(result.metrics["auroc"], float)
    assert set(result.metrics["per_class"]) == {"circle", "square"}


# --------------------------------------------------------------------------------------- tracking


def _mlflow_run(tracking_uri: str):
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(TASK)
    assert experiment is not None, f"no '{TASK}' experiment in {tracking_uri}"
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    return client, runs[0]


def test_tracking_defaults_to_sqlite_under_the_output_root(shapes_dir, tiny_settings):
    result = _train(shapes_dir, tiny_settings, track=True)

    database = Path(tiny_settings["output"]) / "mlflow.db"
    assert database.is_file()
    client, run = _mlflow_run(f"sqlite:///{database}")
    assert run.info.status == "FINISHED"
    assert run.info.run_name == result.path.name
    history = client.get_metric_history(run.info.run_id, "val_loss")
    assert len(history) == tiny_settings["epochs"]
    assert run.data.params["epochs"] == str(tiny_settings["epochs"])
    assert run.data.params["model"] == "smallcnn"
    assert run.data.metrics["test_accuracy"] == pytest.approx(result.metrics["accuracy"])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"bundle.json", "model.safetensors", "metrics.json"} <= artifacts
    assert "checkpoints" not in artifacts


def test_tracking_follows_mlflow_tracking_uri(shapes_dir, tiny_settings, tmp_path, monkeypatch):
    other = tmp_path / "other.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{other}")

    _train(shapes_dir, tiny_settings, track=True)

    assert other.is_file()
    assert not (Path(tiny_settings["output"]) / "mlflow.db").exists()
    client, run = _mlflow_run(f"sqlite:///{other}")
    assert len(client.get_metric_history(run.info.run_id, "val_loss")) == tiny_settings["epochs"]
