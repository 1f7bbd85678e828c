"""What MLflow is given of a run's metrics: flat, finite numbers under names it accepts."""

from __future__ import annotations

from torchworks.engine.tracking import _flat_numbers


def test_nested_metrics_become_flat_numbers_with_names_mlflow_accepts():
    from mlflow.utils.validation import _validate_metric_name

    metrics = {"map": 0.5, "map_small": None, "note": "text", "flag": True, "nan": float("nan"),
               "per_class": {"traffic light": {"ap": 0.25, "boxes": 3}, "a/b": {"ap": 0.5}, "c++": {"ap": None}},
               "speed": {"batch1_ms": 4.5, "device": "cpu"}, "verdict": {"beats_baseline": None, "model": 0.5}}
    flat = _flat_numbers(metrics)
    assert flat == {"map": 0.5, "per_class.traffic light.ap": 0.25, "per_class.traffic light.boxes": 3.0,
                    "per_class.a_b.ap": 0.5, "speed.batch1_ms": 4.5, "verdict.model": 0.5}
    for name in flat:
        _validate_metric_name(f"test_{name}")  # raises on a name MLflow refuses
    assert all(len(name) <= 240 for name in _flat_numbers({"x" * 300: 1.0}))


def test_the_task_files_a_bundle_lists_are_linked_like_the_weights(tmp_path):
    import json

    from torchworks.engine.tracking import _task_files

    (tmp_path / "bundle.json").write_text(json.dumps({"files": {"item_index.faiss": {"bytes": 1, "sha256": "x"}}}))
    assert _task_files(tmp_path) == {"item_index.faiss"}
    (tmp_path / "bundle.json").write_text("{broken")
    assert _task_files(tmp_path) == set()
    assert _task_files(tmp_path / "missing") == set()
