import json

import numpy as np
import pytest
import torch
from PIL import Image

import torchworks
from torchworks.errors import ConfigError
from torchworks.tasks import get_task
from torchworks.tasks.object_detection.models import COMPACT_OPTIONS, FIRST_COMPACT_OPTIONS


def test_a_trained_run_records_coco_metrics_and_its_state(detection_run):
    metrics = json.loads((detection_run / "metrics.json").read_text())
    for key in ("map", "map_50", "map_75", "map_small", "map_medium", "map_large", "per_class"):
        assert key in metrics
    assert set(metrics["per_class"]) == {"car", "person", "sign", "cone"}
    assert 0.0 <= metrics["map"] <= metrics["map_50"] <= 1.0
    bundle = json.loads((detection_run / "bundle.json").read_text())
    assert bundle["state"]["labels"] == ["car", "person", "sign", "cone"]
    assert bundle["state"]["image_size"] == 128 and bundle["state"]["model"] == "compact"
    assert bundle["state"]["architecture"] == COMPACT_OPTIONS  # the bundle says how to rebuild its detector


def test_a_bundle_rebuilds_the_detector_it_was_trained_with():
    """The compact detector's options come from the bundle, so new defaults never break an older bundle;
    a bundle that predates the record rebuilds the first design."""
    task = get_task("object-detection")
    config = task.config_class(data="unused")
    state = {"labels": ["a", "b"], "image_size": 64, "model": "compact"}
    narrow = task.build_model(config, {**state, "architecture": {**COMPACT_OPTIONS, "width": 8, "fpn": 32}},
                              for_training=False)
    assert narrow.cls_out.in_channels == 32 and narrow.stem[0].out_channels == 8
    recorded = {key: value for key, value in COMPACT_OPTIONS.items() if key not in ("lean_head", "out_kernel")}
    before_lean = task.build_model(config, {**state, "architecture": {**recorded, "fpn": 96}}, for_training=False)
    assert before_lean.cls_out.kernel_size == (3, 3)
    assert isinstance(before_lean.smooth[0].depthwise, torch.nn.Sequential)
    first = task.build_model(config, {**state, "architecture": None}, for_training=False)
    assert first.cls_out.in_channels == FIRST_COMPACT_OPTIONS["fpn"]
    assert first.stem[0].out_channels == FIRST_COMPACT_OPTIONS["width"]


def test_predictions_are_boxes_in_the_stored_images_pixels(detection_run, scenes_dir, tmp_path):
    predictor = torchworks.load(detection_run)
    wide = Image.open(sorted((scenes_dir / "images").iterdir())[0]).resize((256, 128))
    records = predictor.predict([wide, np.asarray(wide)], conf=0.0, max_det=5)
    assert len(records) == 2
    for record in records:
        assert (record["width"], record["height"]) == (256, 128)
        assert record["count"] == len(record["boxes"]) <= 5
        for box in record["boxes"]:
            x1, y1, x2, y2 = box["xyxy"]
            assert 0 <= x1 < x2 <= 256 and 0 <= y1 < y2 <= 128
            assert box["label"] in {"car", "person", "sign", "cone"}
        scores = [box["score"] for box in record["boxes"]]
        assert scores == sorted(scores, reverse=True)
    assert records[0]["boxes"] == records[1]["boxes"]


def test_classes_filter_the_boxes_and_an_unknown_class_is_refused(detection_run, scenes_dir):
    predictor = torchworks.load(detection_run)
    image = sorted((scenes_dir / "images").iterdir())[0]
    only_cars = predictor.predict([image], conf=0.0, classes="car")[0]
    assert {box["label"] for box in only_cars["boxes"]} <= {"car"}
    with pytest.raises(ConfigError, match="unknown class 'bus'"):
        predictor.predict([image], classes="bus")
