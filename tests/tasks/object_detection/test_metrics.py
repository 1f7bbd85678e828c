"""DetectionMetrics against pycocotools' own COCOeval, and on cases small enough to check by hand."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from torchworks.tasks.object_detection.annotations import DetectionImage
from torchworks.tasks.object_detection.metrics import DetectionMetrics

CLASSES = ["car", "person", "bike", "sign", "truck"]  # "sign" only in predictions, "truck" nowhere
WIDTH, HEIGHT = 320, 240


def _box(rng: np.random.Generator, side: tuple[float, float]) -> list[float]:
    w, h = rng.uniform(*side, size=2)
    x, y = rng.uniform(0, WIDTH - w), rng.uniform(0, HEIGHT - h)
    return [x, y, x + w, y + h]


def _jitter(rng: np.random.Generator, box: np.ndarray, amount: float) -> list[float]:
    w, h = box[2] - box[0], box[3] - box[1]
    shift = rng.normal(0, amount, size=4) * np.array([w, h, w, h])
    return list(box + shift)


def make_fixture(seed: int) -> tuple[list[dict], list[dict]]:
    """Eight images: boxes of every COCO size, crowd regions (with detections inside them), an image
    without ground truth (with false alarms on it), an image without detections, wrong labels,
    duplicates, and a class that occurs only among the predictions."""
    rng = np.random.default_rng(seed)
    sides = [(8, 30), (35, 90), (100, 200)]  # small, medium, large
    targets, predictions = [], []
    for index in range(8):
        boxes, labels, crowd = [], [], []
        if index != 5:  # image 5 has no ground truth
            for _ in range(int(rng.integers(2, 7))):
                boxes.append(_box(rng, sides[int(rng.integers(0, 3))]))
                labels.append(int(rng.integers(0, 3)))
                crowd.append(False)
        if index in (1, 3):  # a crowd region, some detections fall inside it
            boxes.append(_box(rng, (110, 160)))
            labels.append(1)
            crowd.append(True)
        gt = np.array(boxes, dtype=np.float32).reshape(-1, 4)
        targets.append({"boxes": gt, "labels": np.array(labels, dtype=np.int64),
                        "iscrowd": np.array(crowd, dtype=bool)})

        pred_boxes, pred_labels = [], []
        if index != 6:  # image 6 has no detections
            for box, label, is_crowd in zip(gt, labels, crowd):
                if is_crowd:
                    x1, y1, x2, y2 = box
                    for _ in range(3):
                        w, h = rng.uniform(10, 30, size=2)
                        x, y = rng.uniform(x1, x2 - w), rng.uniform(y1, y2 - h)
                        pred_boxes.append([x, y, x + w, y + h])
                        pred_labels.append(1)
                    continue
                if rng.random() < 0.15:  # missed
                    continue
                pred_boxes.append(_jitter(rng, box, float(rng.choice([0.01, 0.05, 0.12]))))
                pred_labels.append(label if rng.random() > 0.1 else int(rng.integers(0, 3)))
                if rng.random() < 0.2:  # a duplicate
                    pred_boxes.append(_jitter(rng, box, 0.08))
                    pred_labels.append(label)
            for _ in range(int(rng.integers(1, 4))):  # false alarms
                pred_boxes.append(_box(rng, sides[int(rng.integers(0, 3))]))
                pred_labels.append(int(rng.integers(0, 4)))
        n = len(pred_boxes)
        predictions.append({"boxes": np.clip(np.array(pred_boxes, dtype=np.float32).reshape(-1, 4), 0, WIDTH),
                            "scores": rng.uniform(0.05, 1.0, size=n).astype(np.float32),
                            "labels": np.array(pred_labels, dtype=np.int64)})
    return predictions, targets


def _xywh(box: np.ndarray) -> list[float]:
    x1, y1, x2, y2 = (np.float32(v) for v in box)
    return [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]


def cocoeval_reference(predictions: list[dict], targets: list[dict], tmp_path: Path) -> dict:
    """The same data as a COCO ground-truth file and a detections list, evaluated by pycocotools."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, annotations, detections = [], [], []
    for image_id, (prediction, target) in enumerate(zip(predictions, targets), start=1):
        images.append({"id": image_id, "file_name": f"{image_id}.png", "width": WIDTH, "height": HEIGHT})
        for box, label, crowd in zip(target["boxes"], target["labels"], target["iscrowd"]):
            bbox = _xywh(box)
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": int(label) + 1,
                                "bbox": bbox, "area": bbox[2] * bbox[3], "iscrowd": int(crowd)})
        for box, score, label in zip(prediction["boxes"], prediction["scores"], prediction["labels"]):
            detections.append({"image_id": image_id, "category_id": int(label) + 1, "bbox": _xywh(box),
                               "score": float(score)})
    path = tmp_path / "instances.json"
    categories = [{"id": k + 1, "name": name} for k, name in enumerate(CLASSES)]
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(path))
        evaluation = COCOeval(truth, truth.loadRes(detections), iouType="bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    stats = evaluation.stats
    precision = evaluation.eval["precision"]  # T x R x K x A x M
    recall = evaluation.eval["recall"]  # T x K x A x M

    def mean(values: np.ndarray) -> float | None:
        values = values[values > -1]
        return float(values.mean()) if values.size else None

    return {
        "map": stats[0], "map_50": stats[1], "map_75": stats[2], "map_small": stats[3],
        "map_medium": stats[4], "map_large": stats[5], "mar_100": stats[8],
        "per_class": {name: {"ap": mean(precision[:, :, k, 0, -1]), "ap_50": mean(precision[0, :, k, 0, -1]),
                             "recall": mean(recall[:, k, 0, -1])} for k, name in enumerate(CLASSES)},
    }


# seeds whose recalls land exactly on COCO's 0.01 grid: torchmetrics' float32 default thresholds were off by ~0.005
@pytest.mark.parametrize("seed", [18, 24])
def test_every_number_equals_pycocotools_cocoeval(tmp_path, seed):
    predictions, targets = make_fixture(seed)
    # the fixture holds what it claims to
    assert len(targets[5]["labels"]) == 0 and len(predictions[5]["labels"]) > 0
    assert len(predictions[6]["labels"]) == 0 and len(targets[6]["labels"]) > 0
    assert sum(t["iscrowd"].sum() for t in targets) == 2
    assert not any((p["labels"] == 4).any() or (t["labels"] >= 3).any() for p, t in zip(predictions, targets))

    metrics = DetectionMetrics(CLASSES)
    metrics.update(predictions[:3], targets[:3])  # streamed in batches
    metrics.update(predictions[3:], targets[3:])
    got = metrics.compute()
    want = cocoeval_reference(predictions, targets, tmp_path)

    for key in ("map", "map_50", "map_75", "map_small", "map_medium", "map_large", "mar_100"):
        assert got[key] == pytest.approx(want[key], abs=1e-4), key
    assert 0.05 < got["map"] < 0.95 and got["map_50"] > got["map_75"]  # neither trivial nor saturated
    for name in CLASSES:
        for key in ("ap", "ap_50", "recall"):
            expected = want["per_class"][name][key]
            if expected is None:
                assert got["per_class"][name][key] is None, (name, key)
            else:
                assert got["per_class"][name][key] == pytest.approx(expected, abs=1e-4), (name, key)
    # classes without ground truth are undefined, not 0 or -1
    assert got["per_class"]["sign"] == {"ap": None, "ap_50": None, "recall": None, "boxes": 0}
    assert got["per_class"]["truck"]["ap"] is None
    json.dumps(got, allow_nan=False)  # plain floats, None for undefined


def test_crowd_regions_are_ignored_not_false_alarms(tmp_path):
    target = {"boxes": [[0, 0, 50, 50], [100, 100, 220, 220]], "labels": [0, 0], "iscrowd": [False, True]}
    inside = [[110, 110, 130, 130], [150, 150, 180, 170], [190, 120, 215, 140]]
    prediction = {"boxes": [[0, 0, 50, 50], *inside], "scores": [0.5, 0.9, 0.8, 0.7], "labels": [0, 0, 0, 0]}
    metrics = DetectionMetrics(["thing"])
    metrics.update([prediction], [target])
    result = metrics.compute()
    assert result["map"] == pytest.approx(1.0) and result["mar_100"] == pytest.approx(1.0)
    assert result["per_class"]["thing"]["boxes"] == 1  # crowd regions are not counted as boxes to find


def test_one_perfect_box_scores_one():
    metrics = DetectionMetrics(["a", "b"])
    metrics.update([{"boxes": [[10, 10, 60, 40]], "scores": [0.9], "labels": [1]}],
                   [{"boxes": [[10, 10, 60, 40]], "labels": [1]}])
    result = metrics.compute()
    assert result["map"] == pytest.approx(1.0) and result["map_50"] == pytest.approx(1.0)
    assert result["map_small"] is None and result["map_medium"] == pytest.approx(1.0)  # 50 x 30 = 1500 px
    assert result["per_class"]["b"] == {"ap": pytest.approx(1.0), "ap_50": pytest.approx(1.0),
                                        "recall": pytest.approx(1.0), "boxes": 1}
    assert result["per_class"]["a"]["ap"] is None


def test_a_box_at_iou_0_6_counts_at_50_but_not_at_75():
    # ground truth 0..100 x 0..100; the prediction 0..100 x 0..60 overlaps it with IoU 6000 / 10000 = 0.6
    metrics = DetectionMetrics(["a"])
    metrics.update([{"boxes": [[0, 0, 100, 60]], "scores": [0.8], "labels": [0]}],
                   [{"boxes": [[0, 0, 100, 100]], "labels": [0]}])
    result = metrics.compute()
    assert result["map_50"] == pytest.approx(1.0) and result["map_75"] == pytest.approx(0.0)
    # matched at 0.50, 0.55 and 0.60 of the ten thresholds: an IoU equal to a threshold matches, as in COCOeval
    # (with torchmetrics' float32 default thresholds 0.6 would fall just short)
    assert result["map"] == pytest.approx(0.3) and result["mar_100"] == pytest.approx(0.3)
    assert result["per_class"]["a"]["ap_50"] == pytest.approx(1.0)


def test_images_without_boxes_or_detections_count():
    empty = {"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0, np.float32), "labels": np.zeros(0, np.int64)}
    truth = {"boxes": [[0, 0, 40, 40]], "labels": [0]}
    # a false alarm on an image without ground truth outranks the true positive: precision 1/2 from recall 0
    metrics = DetectionMetrics(["a"])
    metrics.update([{"boxes": [[0, 0, 40, 40]], "scores": [0.5], "labels": [0]},
                    {"boxes": [[5, 5, 30, 30]], "scores": [0.9], "labels": [0]}],
                   [truth, {"boxes": np.zeros((0, 4)), "labels": np.zeros(0, np.int64)}])
    assert metrics.compute()["map_50"] == pytest.approx(0.5)
    # an image without detections: its box is missed, recall 1/2; precision 1 at 51 of COCO's 101 recall points
    metrics = DetectionMetrics(["a"])
    metrics.update([{"boxes": [[0, 0, 40, 40]], "scores": [0.5], "labels": [0]}, empty], [truth, truth])
    result = metrics.compute()
    assert result["map_50"] == pytest.approx(51 / 101) and result["mar_100"] == pytest.approx(0.5)
    # no detections anywhere: zero, not undefined
    metrics = DetectionMetrics(["a"])
    metrics.update([empty], [truth])
    assert metrics.compute()["map"] == 0.0
    # no ground truth anywhere, or nothing seen: undefined
    metrics = DetectionMetrics(["a"])
    assert metrics.compute()["map"] is None
    metrics.update([empty], [{"boxes": [], "labels": []}])
    assert metrics.compute()["map"] is None


def test_detection_image_serves_as_target_and_reset_forgets():
    image = DetectionImage(path=Path("x.png"), width=64, height=64, boxes=np.array([[4, 4, 20, 20]], np.float32),
                           labels=np.array([0]), iscrowd=np.array([False]), source="x.json")
    metrics = DetectionMetrics(["a"])
    metrics.update([{"boxes": [[4, 4, 20, 20]], "scores": [0.7], "labels": [0]}], [image])
    assert metrics.compute()["map"] == pytest.approx(1.0)
    metrics.reset()
    assert metrics.images == 0 and metrics.compute()["map"] is None


def test_bad_input_is_refused():
    metrics = DetectionMetrics(["a", "b"])
    with pytest.raises(ValueError, match="class index 2"):
        metrics.update([{"boxes": [[0, 0, 1, 1]], "scores": [0.5], "labels": [2]}], [{"boxes": [], "labels": []}])
    with pytest.raises(ValueError, match="differ in length"):
        metrics.update([{"boxes": [[0, 0, 1, 1]], "scores": [0.5, 0.4], "labels": [0]}], [{"boxes": [], "labels": []}])
    with pytest.raises(ValueError, match="one per image"):
        metrics.update([], [{"boxes": [], "labels": []}])


def test_curves_and_sizes_equal_pycocotools(tmp_path):
    """The report's precision-recall curves (IoU 0.50) and AP50 / box counts by size are COCOeval's own."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    predictions, targets = make_fixture(18)
    metrics = DetectionMetrics(CLASSES)
    metrics.update(predictions, targets)
    result = metrics.compute()
    details = metrics.details
    cocoeval_reference(predictions, targets, tmp_path)  # writes instances.json
    detections = [{"image_id": i, "category_id": int(label) + 1, "bbox": _xywh(box), "score": float(score)}
                  for i, p in enumerate(predictions, start=1)
                  for box, score, label in zip(p["boxes"], p["scores"], p["labels"])]
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(tmp_path / "instances.json"))
        evaluation = COCOeval(truth, truth.loadRes(detections), iouType="bbox")
        evaluation.evaluate()
        evaluation.accumulate()
    precision = evaluation.eval["precision"]  # T x R x K x A x M

    assert details.recall.shape == (101,) and details.recall[1] == pytest.approx(0.01)
    for k, name in enumerate(CLASSES):
        want = precision[0, :, k, 0, -1]
        if (want > -1).all():
            np.testing.assert_allclose(details.precision_50[name], want, atol=1e-4)
            assert details.precision_50[name].mean() == pytest.approx(result["per_class"][name]["ap_50"])
        else:
            assert details.precision_50[name] is None, name  # "sign", "truck": no ground truth
    boxes = [a for a in truth.dataset["annotations"] if not a["iscrowd"]]
    for area, (size, entry) in enumerate(details.by_size.items(), start=1):
        low, high = evaluation.params.areaRng[area]
        values = precision[0, :, :, area, -1]
        want = values[values > -1].mean() if (values > -1).any() else None
        assert entry["ap_50"] == pytest.approx(want, abs=1e-4), size
        assert entry["ap"] == result[f"map_{size}"]
        assert entry["boxes"] == sum(low <= a["area"] <= high for a in boxes), size
    assert sum(entry["boxes"] for entry in details.by_size.values()) >= len(boxes)
    metrics.reset()
    assert all(curve is None for curve in metrics.details.precision_50.values())
    assert metrics.details.by_size["small"]["boxes"] == 0
