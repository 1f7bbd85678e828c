"""Training throughput of torchworks' engine against a plain PyTorch loop, same model and data.

Both sides train ``build_classifier("smallcnn", ...)`` on the datasets that
``ImageClassification().prepare_data(config)`` returns for the ``digits`` sample, so they read the
same cached pixels through the same augmentation transforms, with the same batch size, optimiser
(AdamW), learning-rate schedule (cosine with warm-up, stepped per batch), epochs and torch threads.

* torchworks: the real ``torchworks.engine.train._fit`` -- the function ``torchworks train`` calls
  -- with its Trainer, TaskModule, TaskDataModule, EpochSeeder, HistoryRecorder, ModelCheckpoint
  (atomic, fsynced ``best.ckpt``/``last.ckpt`` every epoch) and the final best-weights restore.
  ``mlflow``, ``progress`` and ``baselines`` are off (``--progress`` turns the progress bar on).
* plain: DataLoader + AdamW + LambdaLR + a per-epoch validation pass, nothing else.

Dataset scanning, model construction and imports happen before the clock starts on both sides;
validation after every epoch is inside the clock on both sides. A timing callback, added through
the task's own ``training_callbacks`` hook, splits torchworks' epochs into train and validation.

    .venv/bin/python benchmarks/train_overhead.py [--epochs 3] [--rounds 3] [--batch-size 64]

Writes ``benchmarks/results/train_overhead.json`` and ``benchmarks/results/train_overhead.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader

from torchworks.tasks.image_classification.task import ImageClassification

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")

    import lightning.pytorch as pl

    from torchworks.engine.callbacks import quiet_lightning
    from torchworks.engine.devices import resolve_accelerator, resolve_precision
    from torchworks.engine.settings import task_config

    quiet_lightning()
    task = TimedImageClassification()
    settings = {
        "data": "digits", "epochs": args.epochs, "batch_size": args.batch_size, "device": args.device,
        "precision": args.precision, "num_workers": args.num_workers, "mlflow": False, "baselines": False,
        "progress": args.progress, "seed": args.seed,
    }
    config = task_config(task, settings)
    accelerator = resolve_accelerator(config.device)
    precision = resolve_precision(config.precision, accelerator)
    device = torch.device("cuda" if accelerator == "cuda" else accelerator)

    setup_started = time.perf_counter()
    pl.seed_everything(config.seed, workers=True, verbose=False)
    data = task.prepare_data(config)  # one-time setup: not timed on either side
    setup_seconds = time.perf_counter() - setup_started
    n_train, n_val = len(data.train), len(data.val)
    print(f"digits: {n_train} train / {n_val} val images, {config.image_size}px, "
          f"{data.state['channels']} channel(s); setup {setup_seconds:.1f}s (untimed)")
    print(f"epochs={config.epochs} batch_size={config.batch_size} threads={torch.get_num_threads()} "
          f"device={accelerator} precision={precision} num_workers={config.num_workers} "
          f"progress={config.progress} rounds={args.rounds}")

    runners = {
        "torchworks": lambda epochs: _run_torchworks(task, data, config, epochs, args.workdir),
        "plain": lambda epochs: _run_plain(task, data, config, epochs, device, precision),
    }
    # Warm-up (untimed): first-call costs (allocator, kernels, lazy imports) hit neither side's numbers.
    for name in ("torchworks", "plain"):
        runners[name](1)

    rounds: list[dict[str, Any]] = []
    for index in range(args.rounds):
        order = ["torchworks", "plain"] if index % 2 == 0 else ["plain", "torchworks"]
        result: dict[str, Any] = {"round": index + 1, "order": order}
        for name in order:
            result[name] = runners[name](config.epochs)
        rounds.append(result)
        tw, pt = result["torchworks"], result["plain"]
        print(f"round {index + 1} ({' then '.join(order)}): "
              f"torchworks {n_train * config.epochs / tw['fit_seconds']:7.1f} samples/s, "
              f"plain {n_train * config.epochs / pt['fit_seconds']:7.1f} samples/s, "
              f"ratio {pt['fit_seconds'] / tw['fit_seconds']:.3f}")

    summary = _summarise(rounds, n_train, config.epochs)
    report = {
        "benchmark": "train_overhead",
        "what": "samples/s training smallcnn on the digits sample: torchworks engine (_fit) vs a plain loop",
        "settings": {
            "epochs": config.epochs, "rounds": args.rounds, "batch_size": config.batch_size,
            "threads": torch.get_num_threads(), "device": accelerator, "precision": precision,
            "num_workers": config.num_workers, "progress_bar": config.progress, "seed": config.seed,
            "image_size": config.image_size, "lr": config.lr, "train_samples": n_train, "val_samples": n_val,
            "validation_each_epoch": "timed on both sides",
        },
        "machine": {
            "python": platform.python_version(), "torch": torch.__version__, "lightning": pl.__version__,
            "cpu_count": os.cpu_count(), "usable_cpus": _usable_cpus(),
            "load_average_at_end": [round(v, 2) for v in os.getloadavg()], "platform": platform.platform(),
            "gpu": torch.cuda.get_device_name(0) if accelerator == "cuda" else None,
        },
        "summary": summary,
        "rounds": rounds,
        "setup_seconds_untimed": round(setup_seconds, 3),
        "benchmark_seconds": round(time.perf_counter() - started, 1),
    }
    _print_summary(summary, report["benchmark_seconds"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_overhead.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "train_overhead.md").write_text(_markdown(report))
    print(f"wrote {out / 'train_overhead.json'} and {out / 'train_overhead.md'}")
    return 0


# --------------------------------------------------------------------------- torchworks side
def _timer_callback():
    from lightning.pytorch import Callback

    class EpochTimer(Callback):
        """Wall-clock marks at epoch start, validation start and epoch end (after checkpointing)."""

        def __init__(self) -> None:
            self.train: list[float] = []
            self.val: list[float] = []
            self.threads: set[int] = set()
            self._start = self._val_start = 0.0

        def on_train_epoch_start(self, trainer, pl_module) -> None:
            self.threads.add(torch.get_num_threads())
            self._start = _now(pl_module.device)

        def on_validation_start(self, trainer, pl_module) -> None:
            if trainer.state.fn == "fit":  # validation inside fit, not a separate validate()
                self._val_start = _now(pl_module.device)
                self.train.append(self._val_start - self._start)

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            # Lightning orders ModelCheckpoint after other callbacks, but it saves in
            # on_validation_end, which has run for every callback by now.
            self.val.append(_now(pl_module.device) - self._val_start)

    return EpochTimer()


class TimedImageClassification(ImageClassification):
    """The real task plus one timing callback, added through the task's own callback hook."""

    timer = None

    def training_callbacks(self, config):
        return [*super().training_callbacks(config), *([self.timer] if self.timer is not None else [])]


def _run_torchworks(task, data, config, epochs: int, workdir: str | None) -> dict[str, Any]:
    import lightning.pytorch as pl

    from torchworks.engine.settings import config_as_dict
    from torchworks.engine.train import _fit

    config = config.model_copy(update={"epochs": epochs})
    pl.seed_everything(config.seed, workers=True, verbose=False)
    model = task.build_model(config, data.state, for_training=True)  # as train() does, before _fit
    task.timer = _timer_callback()
    run_dir = Path(tempfile.mkdtemp(prefix="tw-bench-", dir=workdir))
    try:
        _sync()
        started, cpu_started = time.perf_counter(), time.process_time()
        fitted = _fit(task, model, data, config, run_dir, None, config_as_dict(config))
        _sync()
        fit_seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    timer, task.timer = task.timer, None
    history = fitted[0]  # (history, logger[, hardware]): the first item is the per-epoch history
    return {
        "fit_seconds": round(fit_seconds, 4),
        "cpu_seconds": round(cpu_seconds, 4),
        "train_seconds": [round(t, 4) for t in timer.train],
        "val_seconds": [round(t, 4) for t in timer.val],
        "threads_seen": sorted(timer.threads),
        "final_val_loss": round(history[-1].get("val_loss", math.nan), 4),
        "final_val_accuracy": round(history[-1].get("val_accuracy", math.nan), 4),
    }


# --------------------------------------------------------------------------- plain side
def _run_plain(task, data, config, epochs: int, device: torch.device, precision: str) -> dict[str, Any]:
    import lightning.pytorch as pl

    from torchworks.tasks.image_classification.models import build_classifier

    pl.seed_everything(config.seed, workers=True, verbose=False)
    model = build_classifier("smallcnn", len(data.state["labels"]), data.state["channels"], config.dropout)
    autocast = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)
    scaler = torch.amp.GradScaler(device.type) if precision == "16-mixed" else None
    pin = torch.cuda.is_available()

    _sync()
    started, cpu_started = time.perf_counter(), time.process_time()
    model.to(device)
    train_loader = DataLoader(data.train, batch_size=config.batch_size, shuffle=True,
                              num_workers=config.num_workers, pin_memory=pin,
                              persistent_workers=config.num_workers > 0)
    val_loader = DataLoader(data.val, batch_size=config.batch_size, shuffle=False,
                            num_workers=config.num_workers, pin_memory=pin,
                            persistent_workers=config.num_workers > 0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    total = max(1, epochs * len(train_loader))
    warmup = max(1, min(total // 20, 200))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: (
        (step + 1) / warmup if step < warmup
        else 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))))
    train_times, val_times = [], []
    val_loss = accuracy = math.nan
    for _ in range(epochs):
        epoch_start = _now(device)
        model.train()
        for inputs, targets in train_loader:
            inputs = inputs.to(device, non_blocking=True)
            targets = targets.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
                outputs = model(inputs)
            loss = F.cross_entropy(outputs.float(), targets)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            schedule.step()
        val_start = _now(device)
        model.eval()
        loss_sum, correct, seen = 0.0, 0, 0
        with torch.no_grad():
            for inputs, targets in val_loader:
                inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
                with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
                    outputs = model(inputs)
                loss_sum += float(F.cross_entropy(outputs.float(), targets, reduction="sum"))
                correct += int((outputs.argmax(1) == targets).sum())
                seen += len(targets)
        val_loss, accuracy = loss_sum / seen, correct / seen
        epoch_end = _now(device)
        train_times.append(val_start - epoch_start)
        val_times.append(epoch_end - val_start)
    _sync()
    fit_seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "fit_seconds": round(fit_seconds, 4),
        "cpu_seconds": round(cpu_seconds, 4),
        "train_seconds": [round(t, 4) for t in train_times],
        "val_seconds": [round(t, 4) for t in val_times],
        "threads_seen": [torch.get_num_threads()],
        "final_val_loss": round(val_loss, 4),
        "final_val_accuracy": round(accuracy, 4),
    }


# --------------------------------------------------------------------------- helpers
def _usable_cpus() -> int | None:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _now(device: Any) -> float:
    if getattr(device, "type", str(device)) == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def _summarise(rounds: list[dict[str, Any]], n_train: int, epochs: int) -> dict[str, Any]:
    samples = n_train * epochs
    summary: dict[str, Any] = {}
    for name in ("torchworks", "plain"):
        runs = [r[name] for r in rounds]
        fit = statistics.median(r["fit_seconds"] for r in runs)
        best = min(r["fit_seconds"] for r in runs)
        cpu = statistics.median(r["cpu_seconds"] for r in runs)
        train = statistics.median(sum(r["train_seconds"]) for r in runs)
        val = statistics.median(sum(r["val_seconds"]) for r in runs)
        steady = statistics.median(  # epochs after the first, train + validation: no one-time costs
            sum(t + v for t, v in zip(r["train_seconds"][1:], r["val_seconds"][1:])) for r in runs
        ) if epochs > 1 else None
        summary[name] = {
            "fit_seconds": round(fit, 4),
            "samples_per_s": round(samples / fit, 1),
            "best_round_samples_per_s": round(samples / best, 1),
            "cpu_seconds": round(cpu, 4),
            "train_only_samples_per_s": round(samples / train, 1),
            "steady_epoch_samples_per_s": round(n_train * (epochs - 1) / steady, 1) if steady else None,
            "train_seconds": round(train, 4),
            "val_seconds": round(val, 4),
            "other_seconds": round(statistics.median(
                r["fit_seconds"] - sum(r["train_seconds"]) - sum(r["val_seconds"]) for r in runs), 4),
            "final_val_accuracy": statistics.median(r["final_val_accuracy"] for r in runs),
        }
    tw, pt = summary["torchworks"], summary["plain"]
    summary["ratio"] = round(tw["samples_per_s"] / pt["samples_per_s"], 3)
    summary["ratio_best_round"] = round(tw["best_round_samples_per_s"] / pt["best_round_samples_per_s"], 3)
    summary["ratio_cpu_time"] = round(pt["cpu_seconds"] / tw["cpu_seconds"], 3)
    summary["ratio_train_only"] = round(tw["train_only_samples_per_s"] / pt["train_only_samples_per_s"], 3)
    if tw["steady_epoch_samples_per_s"]:
        summary["ratio_steady_epochs"] = round(
            tw["steady_epoch_samples_per_s"] / pt["steady_epoch_samples_per_s"], 3)
    summary["ratio_per_round"] = [round(r["plain"]["fit_seconds"] / r["torchworks"]["fit_seconds"], 3)
                                  for r in rounds]
    summary["goal"] = 0.9
    summary["meets_goal"] = summary["ratio"] >= 0.9
    return summary


def _print_summary(summary: dict[str, Any], seconds: float) -> None:
    tw, pt = summary["torchworks"], summary["plain"]
    print()
    print(f"{'':28}{'torchworks':>12}{'plain':>12}{'ratio':>8}")
    rows = [("samples/s (fit, with val)", "samples_per_s", "ratio"),
            ("samples/s (best round)", "best_round_samples_per_s", "ratio_best_round"),
            ("samples/s (train batches)", "train_only_samples_per_s", "ratio_train_only"),
            ("samples/s (epochs 2..N)", "steady_epoch_samples_per_s", "ratio_steady_epochs")]
    for label, key, ratio in rows:
        if tw[key] is not None:
            print(f"{label:28}{tw[key]:12.1f}{pt[key]:12.1f}{summary[ratio]:8.3f}")
    print(f"{'process CPU seconds per fit':28}{tw['cpu_seconds']:12.2f}{pt['cpu_seconds']:12.2f}"
          f"{summary['ratio_cpu_time']:8.3f}")
    print(f"{'seconds: fit / train / val / other':36}")
    for name, row in (("  torchworks", tw), ("  plain", pt)):
        print(f"{name:28}{row['fit_seconds']:8.3f} / {row['train_seconds']:.3f} / "
              f"{row['val_seconds']:.3f} / {row['other_seconds']:.3f}")
    verdict = "meets" if summary["meets_goal"] else "BELOW"
    print(f"torchworks/plain = {summary['ratio']:.3f} ({verdict} the 0.9 goal); per round {summary['ratio_per_round']}")
    print(f"benchmark took {seconds:.1f}s")


def _markdown(report: dict[str, Any]) -> str:
    s, summary = report["settings"], report["summary"]
    tw, pt = summary["torchworks"], summary["plain"]

    def row(label: str, key: str, ratio: str | None, fmt: str = "{:.1f}") -> str:
        r = f"{summary[ratio]:.3f}" if ratio and summary.get(ratio) is not None else ""
        if tw[key] is None:
            return ""
        return f"| {label} | {fmt.format(tw[key])} | {fmt.format(pt[key])} | {r} |\n"

    return (
        "# Training overhead: torchworks vs a plain PyTorch loop\n\n"
        f"smallcnn on `digits` ({s['train_samples']} train / {s['val_samples']} val images, "
        f"{s['image_size']}px), {s['epochs']} epochs, batch {s['batch_size']}, {s['threads']} torch threads, "
        f"{s['device']} ({s['precision']}), num_workers={s['num_workers']}, progress bar "
        f"{'on' if s['progress_bar'] else 'off'}; median of {s['rounds']} alternating rounds. "
        "Validation after every epoch is timed on both sides.\n\n"
        "| | torchworks | plain | torchworks/plain |\n|---|---:|---:|---:|\n"
        + row("samples/s, whole fit (train + val + setup)", "samples_per_s", "ratio")
        + row("samples/s, best round (whole fit)", "best_round_samples_per_s", "ratio_best_round")
        + row("samples/s, training batches only", "train_only_samples_per_s", "ratio_train_only")
        + row("samples/s, epochs 2..N (train + val)", "steady_epoch_samples_per_s", "ratio_steady_epochs")
        + row("fit seconds", "fit_seconds", None, "{:.3f}")
        + row("  of which training batches", "train_seconds", None, "{:.3f}")
        + row("  of which validation (+ checkpoints)", "val_seconds", None, "{:.3f}")
        + row("  of which other (Trainer/loader setup, restore)", "other_seconds", None, "{:.3f}")
        + row("process CPU seconds per fit (ratio: plain/torchworks)", "cpu_seconds", "ratio_cpu_time", "{:.2f}")
        + row("final val accuracy", "final_val_accuracy", None, "{:.3f}")
        + f"\nGoal torchworks/plain >= {summary['goal']}: "
        f"**{'met' if summary['meets_goal'] else 'not met'}** ({summary['ratio']:.3f}; "
        f"per round {summary['ratio_per_round']}). "
        f"torch {report['machine']['torch']}, lightning {report['machine']['lightning']}, "
        f"{report['machine']['usable_cpus']} usable CPUs (load average at the end "
        f"{report['machine']['load_average_at_end'][0]}); benchmark took {report['benchmark_seconds']}s.\n"
    )


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per timed fit (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported")
    parser.add_argument("--batch-size", type=int, default=64, help="samples per step (default 64)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch.set_num_threads for both sides (default: torch's current value)")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"],
                        help="device for both sides (default cpu; auto is what `torchworks train` uses)")
    parser.add_argument("--precision", default="auto", choices=["auto", "32", "bf16-mixed", "16-mixed"])
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader workers on both sides")
    parser.add_argument("--progress", action="store_true", help="torchworks with its progress bar (CLI default)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", default=None, help="where torchworks' temporary run folders go")
    parser.add_argument("--out", default=str(RESULTS), help="folder for the JSON and markdown results")
    args = parser.parse_args(argv)
    if min(args.epochs, args.rounds, args.batch_size, args.threads) < 1:
        parser.error("--epochs, --rounds, --batch-size and --threads must be at least 1")
    return args


if __name__ == "__main__":
    sys.exit(main())
