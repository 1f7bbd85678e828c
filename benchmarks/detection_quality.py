"""Object-detection quality at equal CPU time: the compact detector (the default) against torchvision's
``fasterrcnn_mobilenet_v3_large_320_fpn`` and ``ssdlite320_mobilenet_v3_large``, all from scratch.

Every model trains from scratch on the same split of the ``detection-scenes`` sample (2,000 scenes,
320 px; 1,600 train / 200 val / 200 test) as the task prepares it (same augmentation, same loader),
with the same loop (AdamW, or SGD for Faster R-CNN, per-step warm-up and cosine decay, gradient
clipping) and the same wall-clock budget: a probe times the first steps, the schedule spans the steps
that fit, and training stops at the budget whatever the step. Each model is then scored by the task's
own test evaluation: mAP@[.5:.95], mAP50, AP small, and CPU latency at batch 1 (the eager model,
median of up to 16 batch-1 calls). ``--default-recipe`` also trains the default recipe through
``torchworks.train`` (its own epochs) for the numbers a user gets.

    .venv/bin/python benchmarks/detection_quality.py --default-recipe     # 5 minutes a model
    .venv/bin/python benchmarks/detection_quality.py --minutes 8 --models compact ssdlite320_mobilenet_v3_large

Writes ``benchmarks/results/detection_quality.json`` and ``benchmarks/results/detection_quality.md``.
``--ultralytics`` adds YOLOv8n trained by Ultralytics' own trainer (see ``detection_quality_yolo.py``;
AGPL-3.0, installed separately). Models not run keep their earlier rows (same budget and data), each
row dated.
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
PROBE_STEPS = 8  # timed steps that set the schedule's length
WARMUP_STEPS = 3  # steps not timed (allocation, first batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget per model")
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    parser.add_argument("--data", default="detection-scenes")
    parser.add_argument("--default-recipe", action="store_true",
                        help="also train the default recipe through torchworks.train (its own epochs)")
    parser.add_argument("--recipe-output", help="keep the default recipe's run in this folder (default: discarded)")
    parser.add_argument("--recipe-run", help="report this finished default-recipe run instead of training one")
    parser.add_argument("--ultralytics", action="store_true",
                        help="also train Ultralytics YOLOv8n from its model YAML (installed separately: AGPL-3.0)")
    args = parser.parse_args()
    task = get_task(TASK)
    result = {"minutes_per_model": args.minutes, "data": args.data, "threads": torch.get_num_threads(),
              "rows": [], "default_recipe": None, "ultralytics": ULTRALYTICS_NOTE}
    results_file = HERE / "results" / "detection_quality.json"
    earlier = json.loads(results_file.read_text()) if results_file.exists() else None
    rows = []
    for model in args.models:
        settings = {"data": args.data, "model": model, **PEER_SETTINGS[model]}
        config = resolve_config(task.config_class, {**settings, "mlflow": False, "progress": False})
        data = task.prepare_data(config)
        rows.append(train_for(task, config, data, args.minutes * 60))
        print(json.dumps(rows[-1]), flush=True)
        save(result, rows, args, earlier)  # each row as soon as it is measured
    if args.recipe_run:
        result["default_recipe"] = recipe_numbers(Path(args.recipe_run), None)
    elif args.default_recipe:
        with tempfile.TemporaryDirectory() as workdir:
            started = time.perf_counter()
            run = torchworks.train(TASK, data=args.data, output=args.recipe_output or workdir, name="default",
                                   mlflow=False, progress=False)
            result["default_recipe"] = recipe_numbers(run.path, time.perf_counter() - started)
    if result["default_recipe"]:
        print(json.dumps(result["default_recipe"]), flush=True)
        save(result, rows, args, earlier)
    if args.ultralytics:
        from detection_quality_yolo import train_yolo

        config = resolve_config(task.config_class, {"data": args.data, "mlflow": False, "progress": False})
        rows.append(train_yolo(task.prepare_data(config), args.minutes * 60))
        result["ultralytics"] = YOLO_NOTE
        print(json.dumps(rows[-1]), flush=True)
        save(result, rows, args, earlier)
    print(markdown(result))


def save(result: dict, rows: list[dict], args: argparse.Namespace, earlier: dict | None) -> None:
    """Write the JSON and Markdown results as they stand (earlier rows kept for models not run)."""
    result["rows"] = with_earlier_rows(rows, args.minutes, args.data, earlier)
    if earlier and not args.ultralytics and any(row["model"].startswith("ultralytics") for row in result["rows"]):
        result["ultralytics"] = earlier["ultralytics"]  # an earlier YOLO row keeps the note on how it was trained
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "detection_quality.json").write_text(json.dumps(result, indent=2) + "\n")
    (HERE / "results" / "detection_quality.md").write_text(markdown(result))


def with_earlier_rows(rows: list[dict], minutes: float, data: str, earlier: dict | None) -> list[dict]:
    """``rows`` plus the ``earlier`` results' rows of models not run this time (same budget and data), so
    that one model can be re-measured without training every peer again; each row keeps its date."""
    today = time.strftime("%Y-%m-%d")
    rows = [{**row, "measured": row.get("measured", today)} for row in rows]
    if not earlier or earlier.get("minutes_per_model") != minutes or earlier.get("data") != data:
        return rows
    fresh = {row["model"] for row in rows}
    kept = [row for row in earlier["rows"] if row["model"] not in fresh]
    order = {name: index for index, name in enumerate((*MODELS, "ultralytics yolov8n"))}
    return sorted(rows + kept, key=lambda row: order.get(row["model"], len(order)))


def processor() -> str:
    """The CPU's model name and whether it has AVX-512 (CPU training speed differs about 2x between such
    machines), from /proc/cpuinfo where there is one."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "CPU")
    return f"{name}, {'with' if 'avx512f' in info else 'no'} AVX-512"


def recipe_numbers(run: Path, seconds: float | None) -> dict:
    """The test metrics of a default-recipe run and how long the whole run took (``seconds``; for a run
    trained elsewhere, from its folder's ``config.json`` to the bundle's ``created`` time)."""
    from datetime import datetime

    bundle = json.loads((run / "bundle.json").read_text())
    metrics = bundle["metrics"]
    if seconds is None:
        seconds = datetime.fromisoformat(bundle["created"]).timestamp() - (run / "config.json").stat().st_mtime
    epoch_seconds = [row["seconds"] for row in bundle["history"] if "seconds" in row]
    return {"epochs": bundle.get("training", {}).get("epochs_run", bundle["config"]["epochs"]),
            "max_minutes": bundle["config"].get("max_minutes") or None, "batch_size": bundle["config"]["batch_size"],
            "processor": processor(), "run_s": round(seconds, 1),
            "train_s": round(sum(epoch_seconds), 1) if epoch_seconds else None,
            "map": metrics["map"], "map_50": metrics["map_50"],
            "map_75": metrics["map_75"], "map_small": metrics["map_small"],
            "val_map": [round(row["val_map"], 4) for row in bundle["history"] if "val_map" in row],
            "batch1_ms": (metrics.get("speed") or {}).get("batch1_ms")}


def train_for(task, config, data, budget: float) -> dict:
    """Train ``config.model`` from scratch for ``budget`` seconds of wall-clock time (data loading
    included) and score it on the test split. The learning rate warms up and decays (cosine) over
    the number of steps a probe says fit the budget; training stops at the budget whatever the step."""
    from torchworks.engine.module import TaskDataModule
    from torchworks.engine.outputs import evaluate_on_test

    torch.manual_seed(config.seed)
    model = build_detector(config.model, len(data.state["labels"]), config.image_size)
    groups = task.parameter_groups(model, config)
    optimizer = (torch.optim.SGD(groups, lr=config.lr, momentum=0.9) if config.optimizer == "sgd"
                 else torch.optim.AdamW(groups, lr=config.lr))
    module = TaskDataModule(task, data, config)
    model.train()
    started = time.perf_counter()
    steps_done, planned, probe = 0, None, []
    epoch = 0
    while time.perf_counter() - started < budget:
        for images, targets in module.train_dataloader():
            step_started = time.perf_counter()
            if planned is None and len(probe) == PROBE_STEPS:
                planned = max(PROBE_STEPS + 1, int(budget / (sorted(probe)[len(probe) // 2])))
            scale = schedule(steps_done, planned)
            for group in optimizer.param_groups:
                group["lr"] = config.lr * scale
            loss = training_losses(model, images, targets)["loss"]
            optimizer.zero_grad()
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            steps_done += 1
            if planned is None and steps_done > WARMUP_STEPS:
                probe.append(time.perf_counter() - step_started)
            if time.perf_counter() - started >= budget:
                break
        epoch += 1
    trained = time.perf_counter() - started
    model.eval()
    evaluation = evaluate_on_test(task, model, data, config, latency=True)
    metrics = evaluation.metrics
    return {"model": config.model, "steps": steps_done, "epochs": round(steps_done / module.batches_per_epoch, 2),
            "train_s": round(trained, 1), "map": metrics["map"], "map_50": metrics["map_50"],
            "map_small": metrics["map_small"], "batch1_ms": (evaluation.speed or {}).get("batch1_ms"),
            "parameters": sum(p.numel() for p in model.parameters())}


def schedule(step: int, planned: int | None) -> float:
    """Linear warm-up over 5% of the planned steps (or the probe's steps), then cosine to zero."""
    if planned is None:
        return min(1.0, (step + 1) / 20)
    warmup = max(1, planned // 20)
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, planned - warmup))))


ULTRALYTICS_NOTE = ("not run (add --ultralytics with the `ultralytics` package installed; it is AGPL-3.0, so "
                    "torchworks does not depend on it).")
YOLO_NOTE = ("YOLOv8n built from its model YAML (no weights), trained by Ultralytics' own trainer and recipe (mosaic, "
             "SGD/AdamW auto, warm-up) for the same wall-clock budget (its `time=` setting), offline, on the same "
             "split written in YOLO layout; scored by the same COCO evaluation (torchmetrics, faster_coco_eval) at "
             "conf 0.001, NMS IoU 0.6, 100 boxes.")


def markdown(result: dict) -> str:
    lines = [f"# Object detection at equal CPU time ({result['minutes_per_model']:g} min of training a model, "
             f"{result['threads']} threads, `{result['data']}`)", "",
             "All from scratch, the same split, augmentation and training loop; the test split's COCO metrics.", "",
             "| model | parameters | steps | epochs | trained (s) | mAP | mAP50 | AP small | batch-1 latency (ms) "
             "| measured |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for row in result["rows"]:
        latency = f"{row['batch1_ms']:.1f}" if row["batch1_ms"] else "-"
        lines.append(f"| {row['model']} | {row['parameters']:,} | {row['steps'] or '-'} | {row['epochs'] or '-'} | "
                     f"{row['train_s']:.0f} | {row['map']:.4f} | {row['map_50']:.4f} | {row['map_small'] or 0:.4f} | "
                     f"{latency} | {row.get('measured', '-')} |")
    recipe = result.get("default_recipe")
    if recipe:
        budget = (f", as many as fit in max_minutes={recipe['max_minutes']:g}" if recipe.get("max_minutes") else "")
        trained = f"{recipe['train_s']:.0f} s of training and validation, " if recipe.get("train_s") else ""
        cpu = recipe.get("processor", "an unrecorded CPU")
        lines += ["", f"The default recipe through `torchworks train object-detection` ({recipe['epochs']} epochs"
                  f"{budget}, at batch {recipe.get('batch_size', '-')}, on {cpu}; {trained}{recipe['run_s']:.0f} s "
                  f"for the whole run: data, training with validation each epoch, test, report): "
                  f"mAP {recipe['map']:.4f}, mAP50 {recipe['map_50']:.4f}, "
                  f"mAP75 {recipe.get('map_75') or 0:.4f}, AP small {recipe['map_small'] or 0:.4f}; validation mAP by "
                  f"epoch {recipe.get('val_map', [])}."]
    lines += ["", f"Ultralytics: {result['ultralytics']}", ""]
    return "\n".join(lines)

if __name__ == "__main__":
    main()
