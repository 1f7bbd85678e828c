"""The detector's test evaluation: boxes matched to objects whatever their class (confusion matrix with a
background row and column), the report's figures and tables, and a trained run's report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from torchworks.tasks.object_detection.annotations import DetectionImage
from torchworks.tasks.object_detection.evaluation import DetectionEvaluator
from torchworks.tasks.object_detection.matching import DetectionConfusion, match_image

CLASSES = ["car", "person"]


def _t(values, dtype=torch.float32):
    return torch.as_tensor(values, dtype=dtype)


def test_boxes_match_objects_whatever_their_class():
    truth = [[0, 0, 20, 20], [40, 0, 60, 20], [0, 40, 20, 60], [60, 60, 100, 100]]
    truth_labels = [0, 1, 1, 0]
    crowd = [False, False, False, True]
    boxes = [[1, 1, 20, 20],      # the car, found as a car
             [0, 0, 19, 21],      # a duplicate of it: the car is taken, so a false alarm
             [40, 0, 60, 19],     # the person, called a car
             [80, 0, 99, 19],     # on nothing: a false alarm
             [70, 70, 80, 80]]    # inside the crowd region: ignored
    scores = [0.9, 0.8, 0.7, 0.6, 0.5]
    labels = [0, 0, 0, 1, 1]
    matches = match_image(3, _t(boxes), _t(scores), _t(labels, torch.int64), _t(truth),
                          _t(truth_labels, torch.int64), _t(crowd, torch.bool))
    assert matches.match.tolist() == [0, -1, 1, -1, -1]
    assert matches.ignored.tolist() == [False, False, False, False, True]
    assert (matches.hits, matches.wrong_class, matches.false_alarms, matches.misses) == (1, 1, 2, 1)
    assert matches.found.tolist() == [True, True, False, True]  # the crowd region is never missed
    assert matches.errors == 4

    confusion = DetectionConfusion(2)
    confusion.add(matches)
    # rows: car, person, background; columns: car, person, background
    assert confusion.matrix.tolist() == [[1, 0, 0],
                                         [1, 0, 1],
                                         [1, 1, 0]]


def test_greedy_matching_goes_by_score_then_overlap():
    truth = _t([[0, 0, 10, 10]])
    # the weaker box overlaps more, but the stronger one (IoU 0.81 >= 0.5) takes the object first
    matches = match_image(0, _t([[0, 0, 10, 9], [0, 0, 9, 9]]), _t([0.4, 0.9]), _t([0, 0], torch.int64), truth,
                          _t([0], torch.int64), _t([False], torch.bool))
    assert matches.scores.tolist() == pytest.approx([0.9, 0.4])  # best first
    assert matches.match.tolist() == [0, -1] and matches.false_alarms == 1
    nothing = match_image(0, torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.int64), truth,
                          _t([0], torch.int64), _t([False], torch.bool))
    assert nothing.misses == 1 and nothing.errors == 1
    confusion = DetectionConfusion(1)
    confusion.add(nothing)
    assert confusion.matrix.tolist() == [[0, 1], [0, 0]]


class _Images:
    """A test split as the evaluator sees it: ``images[i].path`` and a length."""

    def __init__(self, images: list[DetectionImage]):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)


def _scene(tmp_path: Path, count: int = 10) -> tuple[_Images, list[dict], dict[str, torch.Tensor]]:
    """``count`` 64x64 images with one car and one person each; outputs (torchvision's padded form) that
    find both on even images, and on odd ones miss the person and add a false alarm, more of them further on."""
    images, targets, boxes, scores, labels = [], [], [], [], []
    for i in range(count):
        path = tmp_path / f"scene_{i}.png"
        Image.new("RGB", (64, 64), (30 * (i % 8), 90, 140)).save(path)
        truth = np.array([[4, 4, 24, 24], [34, 30, 60, 60]], np.float32)
        images.append(DetectionImage(path, 64, 64, truth, np.array([0, 1]), np.array([False, False]), "x.json"))
        targets.append({"boxes": torch.from_numpy(truth), "labels": torch.tensor([0, 1]),
                        "iscrowd": torch.tensor([False, False]), "image_id": torch.tensor(i),
                        "orig_size": torch.tensor([64, 64])})
        alarms = [[28 + 8 * j, 2, 34 + 8 * j, 8] for j in range(i // 2)]  # apart, so NMS keeps each
        found = [[4, 4, 24, 24], [34, 30, 60, 60]] if i % 2 == 0 else [[5, 4, 24, 25], *alarms]
        kinds = [0, 1] if i % 2 == 0 else [0] + [1] * (i // 2)
        pad = 6 - len(found)
        boxes.append(found + [[0, 0, 0, 0]] * pad)
        scores.append([0.9] * len(found[:1]) + [0.6] * (len(found) - 1) + [0.0] * pad)
        labels.append(kinds + [0] * pad)
    outputs = {"boxes": _t(boxes), "scores": _t(scores), "labels": _t(labels, torch.int64)}
    return _Images(images), targets, outputs


def test_evaluator_figures_and_tables(tmp_path):
    dataset, targets, outputs = _scene(tmp_path)
    evaluator = DetectionEvaluator(CLASSES, 64, dataset, conf=0.25)
    for start in (0, 4, 8):  # streamed in batches
        evaluator.update({key: value[start:start + 4] for key, value in outputs.items()}, targets[start:start + 4])
    evaluation = evaluator.compute()

    metrics = evaluation.metrics
    assert {"map", "map_50", "map_75", "map_small", "map_medium", "map_large", "per_class"} <= set(metrics)
    assert metrics["per_class"]["car"]["ap_50"] == pytest.approx(1.0)
    json.dumps(metrics, allow_nan=False)
    assert set(evaluation.figures) == {"precision_recall", "detection_confusion_matrix", "test_images", "most_errors"}
    assert evaluator.confusion.matrix.tolist() == [[10, 0, 0],
                                                   [0, 5, 5],
                                                   [0, 0 + 1 + 2 + 3 + 4, 0]]  # images 1, 3, 5, 7, 9 add i // 2
    rows = {row["class"]: row for row in next(iter(evaluation.tables.values()))}
    assert rows["person"]["missed"] == 5 and rows["person"]["false alarms"] == 10 and rows["car"]["missed"] == 0
    assert rows["car"]["boxes"] == 10 and rows["car"]["AP50"] == pytest.approx(1.0)
    sizes = evaluation.tables["AP by object size (COCO areas, test)"]
    assert [row["size"] for row in sizes] == ["small", "medium", "large"]
    assert [row["boxes"] for row in sizes] == [20, 0, 0]  # 20x20 and 26x30 pixel boxes: under 32x32, small
    assert sizes[0]["AP"] == metrics["map_small"] and sizes[1]["AP"] is None
    worst = evaluation.tables["Test images with the most errors"]
    assert [row["image"] for row in worst][:3] == ["scene_9.png", "scene_7.png", "scene_5.png"]
    assert worst[0] == {"image": "scene_9.png", "objects": 2, "boxes given": 5, "missed": 1, "false alarms": 4,
                        "wrong class": 0}
    assert len(worst) == 5  # the even images have nothing wrong
    assert sorted(m.index for m in evaluator._samples) == [0, 1, 3, 4, 5, 6, 8, 9]  # 8 spread over 10
    for figure in evaluation.figures.values():
        figure.canvas.draw()  # draws without error
    from torchworks.report.plots import close

    for figure in evaluation.figures.values():
        close(figure)


def test_without_a_dataset_there_are_no_pictures_and_nothing_seen_is_no_crash():
    evaluator = DetectionEvaluator(CLASSES, 64)
    evaluation = evaluator.compute()
    assert evaluation.metrics["map"] is None and evaluation.figures == {}
    assert "Test images with the most errors" not in evaluation.tables


def test_a_trained_run_reports_curves_confusion_images_and_speed(detection_run):
    metrics = json.loads((detection_run / "metrics.json").read_text())
    for key in ("map", "map_50", "map_75", "map_small", "map_medium", "map_large", "per_class"):
        assert key in metrics, key
    speed = metrics["speed"]
    assert speed["test_samples"] > 0 and speed["test_seconds"] > 0 and speed["batch1_ms"] > 0
    assert speed["test_ms_per_sample"] == pytest.approx(1000 * speed["test_seconds"] / speed["test_samples"], rel=1e-3)
    assert metrics["verdict"]["text"].startswith("no baseline to compare with")
    for name in ("precision_recall", "detection_confusion_matrix", "test_images"):
        assert (detection_run / "plots" / f"{name}.png").is_file(), name
    page = (detection_run / "report.html").read_text(encoding="utf-8")
    for text in ("Inference speed on this machine", "test pass: reading, model and metrics", "AP by object size",
                 "Per-class AP", "detection confusion matrix", "precision recall"):
        assert text in page, text
    assert re.search(r"the model at batch 1 \(median of \d+ calls", page)
