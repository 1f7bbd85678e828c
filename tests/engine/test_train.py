"""End to end through the Python API: train -> bundle on disk -> load/predict -> evaluate, and MLflow tracking."""

from __future__ import annotations

import json
import os
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


def _embedded_pngs(page: str) -> list[bytes]:
    """The PNG images embedded in ``page`` as data URIs, decoded."""
    import base64

    images = [base64.b64decode(data, validate=True)
              for data in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)]
    assert all(image[:8] == PNG_MAGIC for image in images)
    return images


def _test_split_probabilities(run: Path):
    """Softmax probabilities and targets of the bundle's model on its rebuilt test split, computed here
    with plain torch (no torchworks metric code), as numpy arrays."""
    import numpy as np
    import torch

    from torchworks.engine.loading import load_model

    bundle, task, config, model = load_model(run)
    data = task.prepare_data(config, state=bundle.state)
    collate = task.collate_fn(labelled=True)
    rows = [data.test[i] for i in range(len(data.test))]
    inputs, targets = collate(rows)
    with torch.no_grad():
        probabilities = model(inputs).float().softmax(dim=1)
    return probabilities.numpy(), np.asarray(targets)


def _sklearn_metrics(probabilities, targets, labels: list[str]) -> dict:
    """accuracy, macro F1, per-class precision/recall/F1/support and one-vs-rest AUROC (mean over the
    classes present), by scikit-learn."""
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support, roc_auc_score

    indices = list(range(len(labels)))
    predicted = probabilities.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(targets, predicted, labels=indices,
                                                                     zero_division=0)
    if len(labels) == 2:
        auroc = roc_auc_score(targets, probabilities[:, 1])
    else:
        auroc = float(np.mean([roc_auc_score(targets == k, probabilities[:, k]) for k in np.unique(targets)]))
    return {
        "accuracy": accuracy_score(targets, predicted),
        "macro_f1": f1_score(targets, predicted, labels=indices, average="macro", zero_division=0),
        "auroc": auroc,
        "per_class": {label: {"precision": round(float(precision[k]), 4), "recall": round(float(recall[k]), 4),
                              "f1": round(float(f1[k]), 4), "support": int(support[k])}
                      for k, label in enumerate(labels)},
    }


def test_train_writes_a_complete_bundle(shapes_dir, tiny_settings):
    result = _train(shapes_dir, tiny_settings)

    run = result.path
    assert run.parent == Path(tiny_settings["output"]) / TASK
    for name in ("model.safetensors", "bundle.json", "metrics.json", "report.html"):
        assert (run / name).is_file(), name

    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(result.metrics))
    probabilities, targets = _test_split_probabilities(run)
    expected = _sklearn_metrics(probabilities, targets, ["circle", "square", "stripes"])
    for key in ("accuracy", "macro_f1", "auroc"):
        assert metrics[key] == pytest.approx(expected[key], abs=1e-6), key
    assert metrics["test_samples"] == len(targets) == 6  # 36 images, a 70/15/15 split
    assert set(metrics["per_class"]) == {"circle", "square", "stripes"}
    for label, row in metrics["per_class"].items():
        for key in ("precision", "recall", "f1"):
            assert row[key] == pytest.approx(expected["per_class"][label][key], abs=1e-4), (label, key)
        assert row["support"] == expected["per_class"][label]["support"], label
    assert sum(row["support"] for row in metrics["per_class"].values()) == metrics["test_samples"]
    svc = metrics["baselines"]["svc_pixels"]
    # an accuracy on 6 test images is a whole number of sixths
    assert 0.0 <= svc["accuracy"] <= 1.0 and svc["accuracy"] * 6 == pytest.approx(round(svc["accuracy"] * 6))
    assert 0.0 <= svc["macro_f1"] <= 1.0

    manifest = json.loads((run / "bundle.json").read_text())
    assert manifest["task"] == TASK
    assert manifest["state"]["labels"] == ["circle", "square", "stripes"]
    assert [row["epoch"] for row in manifest["history"]] == [1, 2]
    assert not (run / "checkpoints").exists(), "a finished run keeps no checkpoints by default"

    assert _is_png(run / "plots" / "training_curves.png")
    assert _is_png(run / "plots" / "confusion_matrix.png")


def test_report_is_self_contained(shapes_dir, tiny_settings):
    run = _train(shapes_dir, tiny_settings).path

    page = (run / "report.html").read_text(encoding="utf-8")
    embedded = _embedded_pngs(page)
    plots = {path.name: path.read_bytes() for path in (run / "plots").glob("*.png")}
    assert {"training_curves.png", "confusion_matrix.png"} <= set(plots)
    assert sorted(embedded) == sorted(plots.values()), "every plot is embedded, byte for byte, and nothing else"
    metrics = json.loads((run / "metrics.json").read_text())
    assert f"{metrics['accuracy']:.4f}" in page and f"{metrics['macro_f1']:.4f}" in page
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
    manifest = json.loads((second.path / "bundle.json").read_text())
    assert manifest["task"] == TASK and manifest["name"] == "exp-2"
    assert json.loads((second.path / "metrics.json").read_text()) == json.loads(json.dumps(second.metrics))


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
    assert _is_png(run / "plots" / "confusion_matrix.png")
    page = (run / "report.html").read_text(encoding="utf-8")
    assert f"{result.metrics['accuracy']:.4f}" in page
    assert (run / "plots" / "confusion_matrix.png").read_bytes() in _embedded_pngs(page)


def test_binary_dataset_gets_a_roc_curve(shapes_dir, tiny_settings, tmp_path):
    binary = tmp_path / "binary"
    for label in ("circle", "square"):
        shutil.copytree(shapes_dir / label, binary / label)

    result = _train(binary, tiny_settings)

    assert _is_png(result.path / "plots" / "roc_curve.png")
    assert set(result.metrics["per_class"]) == {"circle", "square"}
    probabilities, targets = _test_split_probabilities(result.path)
    assert probabilities.shape == (len(targets), 2) and set(targets) == {0, 1}
    expected = _sklearn_metrics(probabilities, targets, ["circle", "square"])
    for key in ("auroc", "accuracy", "macro_f1"):  # the binary AUROC of the second class's probability
        assert result.metrics[key] == pytest.approx(expected[key], abs=1e-6), key


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
    result = _train(shapes_dir, tiny_settings, mlflow=True)

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
    # the weights are MLflow's artifact without a second copy on disk: one file, two names
    from urllib.parse import unquote, urlparse

    store = Path(unquote(urlparse(run.info.artifact_uri).path))
    assert store.is_relative_to(Path(tiny_settings["output"]).resolve() / "mlartifacts")
    assert os.path.samefile(store / "model.safetensors", result.path / "model.safetensors")
    assert not os.path.samefile(store / "bundle.json", result.path / "bundle.json"), "small files are copies"


def test_tracking_follows_mlflow_tracking_uri(shapes_dir, tiny_settings, tmp_path, monkeypatch):
    other = tmp_path / "other.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{other}")

    _train(shapes_dir, tiny_settings, mlflow=True)

    assert other.is_file()
    assert not (Path(tiny_settings["output"]) / "mlflow.db").exists()
    client, run = _mlflow_run(f"sqlite:///{other}")
    assert len(client.get_metric_history(run.info.run_id, "val_loss")) == tiny_settings["epochs"]


# ------------------------------------------------------------------------------------ checkpoints


def _toy_train(toy_task, tmp_path, **settings):
    data = toy_task.make_points(tmp_path / "points.csv", n=120, seed=1)
    settings = {"epochs": 3, "batch_size": 16, "lr": 0.03, "mlflow": False, "progress": False, **settings}
    return torchworks.train("toy-points", data=str(data), output=str(tmp_path / "runs"), **settings)


@pytest.mark.parametrize("keep, kept", [(None, []), ("none", []), ("last", ["last.ckpt"]), ("best", ["best.ckpt"]),
                                        ("all", ["best.ckpt", "last.ckpt"])])
def test_a_finished_run_keeps_the_checkpoints_asked_for(toy_task, tmp_path, keep, kept):
    import torch

    result = _toy_train(toy_task, tmp_path, **({} if keep is None else {"keep_checkpoints": keep}))

    folder = result.path / "checkpoints"
    assert (sorted(p.name for p in folder.iterdir()) if folder.exists() else []) == kept
    assert torchworks.load(result.path).predict([[0.0, 0.0]])[0]["label"] in ("inside", "outside")
    history = json.loads((result.path / "bundle.json").read_text())["history"]
    best_epoch = min(history, key=lambda row: row["val_loss"])["epoch"]
    if "last.ckpt" in kept:
        assert torch.load(folder / "last.ckpt", weights_only=True)["epoch"] + 1 == 3
    if "best.ckpt" in kept:
        assert torch.load(folder / "best.ckpt", weights_only=True)["epoch"] + 1 == best_epoch
    if len(kept) == 2:  # the same checkpoint is one file under two names, two files otherwise
        assert os.path.samefile(folder / "best.ckpt", folder / "last.ckpt") == (best_epoch == 3)


def test_keep_checkpoints_refuses_an_unknown_choice(toy_task, tmp_path):
    from torchworks.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        _toy_train(toy_task, tmp_path, keep_checkpoints="first")
    assert "keep_checkpoints" in str(info.value)


def test_a_log_file_gets_one_plain_line_per_epoch(toy_task, tmp_path, capsys):
    _toy_train(toy_task, tmp_path, progress=True)

    err = capsys.readouterr().err  # not a terminal, as with `torchworks train ... > log.txt 2>&1`
    assert "\r" not in err and "\x1b[" not in err and "━" not in err
    lines = [line for line in err.splitlines() if re.match(r"epoch \d+/3 ", line)]
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3"]
    assert all(re.search(r"train_loss=\d", line) and re.search(r"\(\d+\.\d s\)$", line) for line in lines), lines
