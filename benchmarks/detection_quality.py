"""Object-detection quality at equal CPU time: the compact detector (the default) against torchvision's
``fasterrcnn_mobilenet_v3_large_320_fpn`` and ``ssdlite320_mobilenet_v3_large``, all from scratch.

Every model trains through ``torchworks.train("object-detection", ...)`` on the same split of the
``detection-scenes`` sample (2,000 scenes, 320 px; 1,600 train / 200 val / 200 test), with the same
augmentation and the same wall-clock budget. The budget becomes a number of epochs per model: a probe
times a few training steps of each (after warm-up), and each model gets the epochs that fit, so its
learning-rate schedule runs to its end instead of being cut off. Reported from each run's own test
evaluation: mAP@[.5:.95], mAP50, the number of epochs, the run's wall time, and CPU latency at batch 1
(the eager model, median of the test pass's batch-1 calls).

    .venv/bin/python benchmarks/detection_quality.py                     # 8 minutes a model
    .venv/bin/python benchmarks/detection_quality.py --minutes 4 --models compact ssdlite320_mobilenet_v3_large

Writes ``benchmarks/results/detection_quality.json`` and ``benchmarks/results/detection_quality.md``.
Ultralytics YOLO is not among the peers yet (see ``ULTRALYTICS_NOTE``).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import torch

import torchworks
from torchworks.config.loading import resolve_config
from torchworks.tasks import get_task
from torchworks.tasks.object_detection.models import build_detector, training_losses

HERE = Path(__file__).parent
TASK = "object-detection"
MODELS = ("compact", "fasterrcnn_mobilenet_v3_large_320_fpn", "ssdlite320_mobilenet_v3_large")
# torchvision's peers as a user would train them from scratch; lr and optimiser per family as their
# reference scripts suggest for short schedules (SGD for Faster R-CNN, AdamW elsewhere)
PEER_SETTINGS = {
    "compact": {},
    "fasterrcnn_mobilenet_v3_large_320_fpn": {"optimizer": "sgd", "lr": 0.02},
    "ssdlite320_mobilenet_v3_large": {"lr": 0.004},
}
PROBE_STEPS = 8
WARMUP_STEPS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=8.0, help="training budget per model")
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    parser.add_argument("--data", default="detection-scenes")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for model in args.models:
            settings = {"data": args.data, "model": model, **PEER_SETTINGS[model]}
            seconds_per_epoch = probe_epoch_seconds(settings)
            epochs = max(1, math.floor(args.minutes * 60 / seconds_per_epoch))
            print(f"{model}: ~{seconds_per_epoch:.0f} s an epoch -> {epochs} epochs in {args.minutes:g} min", flush=True)
            started = time.perf_counter()
            run = torchworks.train(TASK, **settings, epochs=epochs, output=workdir, name=model, mlflow=False,
                                   progress=False)
            metrics = json.loads((run.path / "metrics.json").read_text())
            rows.append({"model": model, "epochs": epochs, "probe_s_per_epoch": round(seconds_per_epoch, 1),
                         "run_s": round(time.perf_counter() - started, 1), "map": metrics["map"],
                         "map_50": metrics["map_50"], "map_small": metrics["map_small"],
                         "batch1_ms": (metrics.get("speed") or {}).get("batch1_ms"),
                         "parameters": sum(p.numel() for p in torchworks.load(run.path).model.parameters())})
            print(json.dumps(rows[-1]), flush=True)
    result = {"minutes_per_model": args.minutes, "data": args.data, "threads": torch.get_num_threads(),
              "rows": rows, "ultralytics": ULTRALYTICS_NOTE}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "detection_quality.json").write_text(json.dumps(result, indent=2) + "\n")
    (HERE / "results" / "detection_quality.md").write_text(markdown(result))
    print(markdown(result))


def probe_epoch_seconds(settings: dict) -> float:
    """Seconds one training epoch of ``settings``' model takes here: the median of a few timed steps
    (data loading included) after warm-up steps, times the steps of an epoch, plus a validation pass."""
    from torchworks.engine.module import TaskDataModule

    task = get_task(TASK)
    config = resolve_config(task.config_class, {**settings, "mlflow": False, "progress": False})
    data = task.prepare_data(config)
    model = build_detector(config.model, len(data.state["labels"]), config.image_size)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loader = iter(TaskDataModule(task, data, config).train_dataloader())
    timings = []
    for step in range(WARMUP_STEPS + PROBE_STEPS):
        started = time.perf_counter()
        images, targets = next(loader)
        loss = training_losses(model, images, targets)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step >= WARMUP_STEPS:
            timings.append(time.perf_counter() - started)
    steps = math.ceil(len(data.train) / config.batch_size)
    validation = len(data.val) / len(data.train) * 0.3  # a validation pass: forward only, about a third of a step
    return sorted(timings)[len(timings) // 2] * steps * (1 + validation)


ULTRALYTICS_NOTE = ("Not run yet. It is AGPL-3.0, so torchworks cannot depend on it, and whether its trainer starts "
                    "fully offline from a model YAML (no font or weight downloads) has not been checked here.")


def markdown(result: dict) -> str:
    lines = [f"# Object detection at equal CPU time ({result['minutes_per_model']:g} min a model, "
             f"{result['threads']} threads, `{result['data']}`)", "",
             "| model | parameters | epochs | run (s) | mAP | mAP50 | AP small | batch-1 latency (ms) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in result["rows"]:
        latency = f"{row['batch1_ms']:.1f}" if row["batch1_ms"] else "-"
        lines.append(f"| {row['model']} | {row['parameters']:,} | {row['epochs']} | {row['run_s']:.0f} | "
                     f"{row['map']:.4f} | {row['map_50']:.4f} | {row['map_small'] or 0:.4f} | {latency} |")
    lines += ["", f"Ultralytics: {result['ultralytics']}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
