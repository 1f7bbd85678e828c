"""Ultralytics YOLOv8n as a peer in ``detection_quality.py`` (only with ``--ultralytics``).

Ultralytics is AGPL-3.0: torchworks does not depend on it and does not install it; install it
yourself (``pip install ultralytics``) to run this peer. The model is built from its YAML (no weight
download), trained by Ultralytics' own trainer with its default recipe for the wall-clock budget
(``time=``), on the very split the task prepared (written in YOLO layout, images linked), and scored
on the test split by the same COCO metric (torchmetrics with faster_coco_eval) at the evaluation
settings the task uses (conf 0.001, NMS IoU 0.6, 100 boxes).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import torch


def images_of(dataset):
    while not hasattr(dataset, "images"):
        dataset = dataset.dataset
    return dataset.images


def write_yolo_split(data, root: Path) -> Path:
    """The prepared splits as a YOLO dataset under ``root`` (``images/`` links, ``labels/*.txt``)."""
    for split, dataset in (("train", data.train), ("val", data.val), ("test", data.test)):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for item in images_of(dataset):
            os.symlink(item.path.resolve(), root / "images" / split / item.path.name)
            lines = [f"{int(label)} {(x0 + x1) / 2 / item.width:.6f} {(y0 + y1) / 2 / item.height:.6f} "
                     f"{(x1 - x0) / item.width:.6f} {(y1 - y0) / item.height:.6f}"
                     for (x0, y0, x1, y1), label in zip(item.boxes, item.labels)]
            (root / "labels" / split / f"{item.path.stem}.txt").write_text("".join(line + "\n" for line in lines))
    names = "".join(f"  {index}: {name}\n" for index, name in enumerate(data.state["labels"]))
    (root / "data.yaml").write_text(f"path: {root}\ntrain: images/train\nval: images/val\ntest: images/test\n"
                                    f"names:\n{names}")
    return root / "data.yaml"


def train_yolo(data, budget: float, image_size: int = 320) -> dict:
    """Train YOLOv8n from scratch for ``budget`` seconds and score it on the test split."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from torchmetrics.detection import MeanAveragePrecision
    from ultralytics import YOLO

    with tempfile.TemporaryDirectory() as workdir:
        yaml_path = write_yolo_split(data, Path(workdir) / "yolo")
        model = YOLO("yolov8n.yaml")
        started = time.perf_counter()
        model.train(data=str(yaml_path), imgsz=image_size, batch=16, time=budget / 3600, epochs=1000, device="cpu",
                    workers=0, amp=False, plots=False, val=False, pretrained=False, project=workdir, name="train",
                    verbose=False, seed=0)
        trained = time.perf_counter() - started
        metric = MeanAveragePrecision(box_format="xyxy", backend="faster_coco_eval")
        latencies = []
        for item in images_of(data.test):
            result = model.predict(str(item.path), imgsz=image_size, conf=0.001, iou=0.6, max_det=100, device="cpu",
                                   verbose=False)[0]
            latencies.append(result.speed["inference"])  # the network alone, in ms, as the other rows
            found = result.boxes
            metric.update([{"boxes": found.xyxy, "scores": found.conf, "labels": found.cls.long()}],
                          [{"boxes": torch.as_tensor(item.boxes, dtype=torch.float32).reshape(-1, 4),
                            "labels": torch.as_tensor(item.labels, dtype=torch.long).reshape(-1),
                            "iscrowd": torch.as_tensor(item.iscrowd, dtype=torch.bool).reshape(-1)}])
        scores = metric.compute()
    latencies.sort()
    return {"model": "ultralytics yolov8n", "steps": None, "epochs": None, "train_s": round(trained, 1),
            "map": float(scores["map"]), "map_50": float(scores["map_50"]), "map_small": float(scores["map_small"]),
            "batch1_ms": round(latencies[len(latencies) // 2], 1),
            "parameters": sum(p.numel() for p in model.model.parameters())}
