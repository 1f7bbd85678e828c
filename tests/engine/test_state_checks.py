"""The engine checks a task's typed state at both boundaries: a state that does not fit the task's model
fails training before any bundle is written (a bug in the task), and a bundle whose state was tampered
with, or comes from a newer schema, fails to load with a BundleError naming the bundle and the field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import torchworks
from torchworks.errors import BundleError



def _tampered(image_run: Path, tmp_path: Path, change) -> Path:
    run = tmp_path / "shapes"
    shutil.copytree(image_run, run)
    manifest = json.loads((run / "bundle.json").read_text())
    change(manifest)
    (run / "bundle.json").write_text(json.dumps(manifest))
    return run


@pytest.mark.parametrize("change, field, got", [
    (lambda m: m["state"].pop("mean"), "field 'mean'", "missing"),
    (lambda m: m["state"].update(image_size="16"), "field 'image_size'", "'16'"),
    (lambda m: m["state"].update(channels=2), "field 'channels'", "2"),
    (lambda m: m["state"].update(mean=[0.5, "x"]), "field 'mean.1'", "'x'"),
    (lambda m: m["state"].update(colour="L"), "field 'colour'", "not a field"),
], ids=["missing-key", "wrong-type", "wrong-value", "wrong-item", "extra-key"])
def test_a_bundle_with_a_tampered_state_fails_to_load_naming_the_field(image_run, tmp_path, change, field, got):
    run = _tampered(image_run, tmp_path, change)
    with pytest.raises(BundleError) as caught:
        torchworks.load(run)
    error = caught.value
    assert str(run / "bundle.json") in error.what and field in error.what
    assert "ImageClassificationState" in error.expected and got in error.got


def test_a_state_from_a_newer_schema_fails_to_load(image_run, tmp_path):
    run = _tampered(image_run, tmp_path, lambda m: m["state_schema"].update(version=2))
    with pytest.raises(BundleError) as caught:
        torchworks.load(run)
    assert str(run / "bundle.json") in caught.value.what and "newer torchworks" in caught.value.what
    assert caught.value.got == "version 2" and "upgrade" in caught.value.hint


@pytest.mark.parametrize("schema", [{"name": "ImageClassificationState"}, {"version": "1"}, {"version": True}, []])
def test_a_malformed_state_schema_fails_to_load(image_run, tmp_path, schema):
    run = _tampered(image_run, tmp_path, lambda m: m.update(state_schema=schema))
    with pytest.raises(BundleError, match="malformed state_schema"):
        torchworks.load(run)


def test_a_bundle_written_before_typed_states_loads_when_its_state_fits(image_run, tmp_path):
    run = _tampered(image_run, tmp_path, lambda m: m.pop("state_schema"))
    predictor = torchworks.load(run)
    assert predictor.labels == ["circle", "square", "stripes"]
    assert predictor.predict([str(image_run.parents[2] / "shapes" / "circle" / "000.png")])[0]["label"]


def test_the_cli_reports_a_tampered_state_and_exits_2(image_run, tmp_path, cli):
    run = _tampered(image_run, tmp_path, lambda m: m["state"].pop("labels"))
    code, out, err = cli("predict", str(run), str(image_run.parents[2] / "shapes" / "circle" / "000.png"))
    assert code == 2
    assert "field 'labels'" in out + err and "Traceback" not in out + err


def _toy_settings(toy, root: Path) -> dict:
    data = toy.make_points(root / "points.csv", n=120, seed=2)
    return {"data": str(data), "output": str(root / "runs"), "name": "toy", "epochs": 1, "batch_size": 32,
            "mlflow": False, "progress": False}


def test_a_prepare_data_state_that_does_not_fit_the_model_fails_training_before_a_bundle(tmp_path, monkeypatch,
                                                                                        toy_task):
    toy = toy_task
    original = toy.ToyPoints.prepare_data

    def wrong_state(self, config, state=None):
        data = original(self, config, state)
        data.state = {"labels": toy.LABELS, "distance_weight": "heavy"}
        return data

    monkeypatch.setattr(toy.ToyPoints, "prepare_data", wrong_state)
    with pytest.raises(TypeError) as caught:
        torchworks.train("toy-points", **_toy_settings(toy, tmp_path))
    message = str(caught.value)
    assert "toy-points" in message and "'distance_weight'" in message and "ToyState" in message
    assert not list((tmp_path / "runs").rglob("bundle.json")) and not list((tmp_path / "runs").rglob("*.ckpt"))


def test_a_task_without_a_state_model_stores_its_state_unchecked(tmp_path, monkeypatch, toy_task):
    toy = toy_task
    original = toy.ToyPoints.prepare_data

    def extra_state(self, config, state=None):
        data = original(self, config, state)
        data.state = {**data.state, "anything": (1, 2)}
        return data

    monkeypatch.setattr(toy.ToyPoints, "state_class", None)
    monkeypatch.setattr(toy.ToyPoints, "prepare_data", extra_state)
    result = torchworks.train("toy-points", **_toy_settings(toy, tmp_path))
    manifest = json.loads((result.path / "bundle.json").read_text())
    assert "state_schema" not in manifest and manifest["state"]["anything"] == [1, 2]
    assert torchworks.load(result.path).bundle.state["anything"] == [1, 2]


def test_the_toy_bundle_records_its_typed_state(tmp_path, toy_task):
    result = torchworks.train("toy-points", **_toy_settings(toy_task, tmp_path), distance_weight=0.5)
    manifest = json.loads((result.path / "bundle.json").read_text())
    assert manifest["state"] == {"labels": ["outside", "inside"], "distance_weight": 0.5}
    assert manifest["state_schema"] == {"name": "ToyState", "version": 1}
