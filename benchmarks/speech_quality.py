"""Speech-recognition quality on ``spoken-digits``: WER greedy / beam / beam + lexicon, train time, and
what length-bucketed batches save.

Each recipe trains with ``torchworks.train("speech-recognition", data="spoken-digits", ...)`` and is
scored on two test sets:

* the sample's own test split (180 clips; its voices never occur in training, its speeds reach
  beyond the training range), from the run's ``metrics.json``, and
* an **unseen** set synthesised here with espeak-ng: voice variants the sample never uses (on every
  accent, plus New York English, which the sample lacks), speeds of 100-250 words per minute
  (training: 120-210) and pitches 10-95 (training: 20-85). Nothing was tuned on it.

Then one timing question for the engine: how much of an epoch do random batches spend on padding,
and how much faster is an epoch of the default model with the length-bucketed batches torchworks
uses? Both orders feed the same clips, same model and same optimiser; only the grouping differs.

    .venv/bin/python benchmarks/speech_quality.py [--recipes default quickstart conformer] [--unseen 300]

Needs espeak-ng for the unseen set (``--unseen 0`` skips it). Writes
``benchmarks/results/speech_quality.json`` and ``benchmarks/results/speech_quality.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

import torchworks
from torchworks.config.loading import resolve_config
from torchworks.tasks.speech_recognition.spoken_digits import LANGUAGES, plan_spoken_digits, render_clip
from torchworks.engine.outputs import collect_outputs
from torchworks.engine.reproducibility import BucketBatchSampler
from torchworks.tasks import get_task
from torchworks.tasks.speech_recognition.data import collate_frames
from torchworks.tasks.speech_recognition.evaluation import evaluate_transcripts

HERE = Path(__file__).parent
TASK = "speech-recognition"
_QUICKSTART = {k: v for k, v in get_task(TASK).quickstart_settings().items() if k not in ("data", "name")}
RECIPES = {"default": {}, "quickstart": _QUICKSTART, "conformer": {"model": "conformer"}}
# espeak-ng voice variants that spoken-digits never uses, each on every accent
UNSEEN_VARIANTS = ("Alex", "adam", "benjamin", "caleb", "Denis", "edward2", "Gene", "Hugo", "iven", "iven2",
                   "john", "Lee", "Michael", "Mike", "norbert", "quincy", "shelby", "steph2", "zac")
UNSEEN_LANGUAGES = (*LANGUAGES, "en-us-nyc")
UNSEEN_SPEEDS = (100, 250)
UNSEEN_PITCH = (10, 95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="*", default=["default", "quickstart", "conformer"], choices=sorted(RECIPES))
    parser.add_argument("--unseen", type=int, default=300, help="clips in the unseen set (0: none)")
    parser.add_argument("--bucket-epochs", type=int, default=3, help="timed epochs per batching (0: skip)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    results: dict = {"threads": torch.get_num_threads(), "recipes": [], "bucketing": None}
    with tempfile.TemporaryDirectory() as workdir:
        unseen = make_unseen_set(Path(workdir) / "unseen", args.unseen) if args.unseen else None
        if args.bucket_epochs:
            results["bucketing"] = time_bucketing(args.bucket_epochs)
            print(json.dumps(results["bucketing"]), flush=True)
        for name in args.recipes:
            started = time.perf_counter()
            run = torchworks.train(TASK, data="spoken-digits", output=workdir, mlflow=False, progress=False,
                                   **RECIPES[name])
            seconds = time.perf_counter() - started
            row = {"recipe": name, **RECIPES[name], "train_seconds": round(seconds, 1),
                   **{f"test_{key}": round(value, 4) for key, value in run.metrics.items()
                      if key.startswith(("wer", "cer"))}}
            if unseen is not None:
                row.update({f"unseen_{key}": value for key, value in score(run.path, *unseen).items()})
            results["recipes"].append(row)
            print(json.dumps(row), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speech_quality.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "speech_quality.md").write_text(table(results))
    print(table(results))


def make_unseen_set(folder: Path, n: int, seed: int = 2026) -> tuple[list[str], list[str]]:
    """``n`` WAV clips of digit strings in voices, speeds and pitches spoken-digits never trains on:
    the sample's own recipe for transcripts, gaps, gain, silence and noise, with new speakers."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    voices = [f"{language}+{variant}" for language in UNSEEN_LANGUAGES for variant in UNSEEN_VARIANTS]
    plans = [dataclasses.replace(plan, voice=str(voices[int(rng.integers(len(voices)))]),
                                 speed=int(rng.integers(UNSEEN_SPEEDS[0], UNSEEN_SPEEDS[1] + 1)),
                                 pitch=int(rng.integers(UNSEEN_PITCH[0], UNSEEN_PITCH[1] + 1)))
             for plan in plan_spoken_digits(n, seed)]
    folder.mkdir(parents=True)

    def write(plan) -> str:
        path = folder / f"{plan.number:05d}.wav"
        sf.write(path, render_clip(plan), 16000, subtype="PCM_16")
        return str(path)

    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:  # espeak-ng runs outside the GIL
        files = list(pool.map(write, plans))
    print(f"unseen set: {n} clips, {len(set(p.voice for p in plans))} voices, "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    return files, [plan.transcript for plan in plans]


def score(run: Path, files: list[str], references: list[str]) -> dict:
    """WER/CER of a bundle on the given clips: greedy, beam, and beam + lexicon when it has one."""
    predictor = torchworks.load(run)
    task, state = predictor.task, predictor.bundle.state
    dataset, origins = task.predict_inputs(files, state)
    if len(origins) != len(files):
        raise SystemExit("an unseen clip was longer than max_seconds; the set must be one piece per clip")
    log_probs = collect_outputs(task, predictor.model, dataset, predictor.config.batch_size)
    metrics = evaluate_transcripts(log_probs, references, files, state, predictor.config.decoder,
                                   predictor.config.beam_width).metrics
    return {key: round(value, 4) for key, value in metrics.items() if key.startswith(("wer", "cer"))}


def time_bucketing(epochs: int) -> dict:
    """Seconds per training epoch of the default model, random batches against length-bucketed ones."""
    task = get_task(TASK)
    config = resolve_config(task.config_class, {"data": "spoken-digits", "mlflow": False, "progress": False})
    data = task.prepare_data(config)
    lengths = [float(x) for x in data.sample_lengths]
    size, batch = len(lengths), config.batch_size
    orders = {"random": lambda epoch: _random_batches(size, batch, epoch),
              "bucketed": lambda epoch: _bucketed_batches(lengths, batch, config.seed, epoch)}
    model = task.build_model(config, data.state, for_training=True)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr)
    seconds: dict[str, list[float]] = {name: [] for name in orders}
    padding = {name: _padding_share(orders[name](0), lengths) for name in orders}
    for epoch in range(epochs):
        for name in (("random", "bucketed") if epoch % 2 == 0 else ("bucketed", "random")):
            torch.manual_seed(epoch)  # the same augmentation draws for both orders
            started = time.perf_counter()
            for indices in orders[name](epoch):
                inputs, targets = collate_frames([data.train[i] for i in indices], labelled=True)
                loss = task.loss(model(inputs), targets, data.state)
                optimiser.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                optimiser.step()
            seconds[name].append(time.perf_counter() - started)
    median = {name: float(np.median(values)) for name, values in seconds.items()}
    return {"train_clips": size, "batch_size": batch, "epochs": epochs, "epoch_seconds": seconds,
            "padding_share": padding, "speedup": round(median["random"] / median["bucketed"], 2)}


def _random_batches(size: int, batch: int, epoch: int) -> list[list[int]]:
    order = torch.randperm(size, generator=torch.Generator().manual_seed(epoch)).tolist()
    return [order[i:i + batch] for i in range(0, size, batch)]


def _bucketed_batches(lengths: list[float], batch: int, seed: int, epoch: int) -> list[list[int]]:
    sampler = BucketBatchSampler(lengths, batch, seed)
    sampler.set_epoch(epoch)
    return [[index for _, index in batch_items] for batch_items in sampler]


def _padding_share(batches: list[list[int]], lengths: list[float]) -> float:
    """Share of the frames in an epoch's padded batches that are padding."""
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    return round(1 - sum(lengths) / padded, 3) if padded else math.nan


def table(results: dict) -> str:
    unseen = any("unseen_wer" in row for row in results["recipes"])
    head = "| recipe | WER beam + lexicon | WER greedy | WER beam, no lexicon | CER greedy |"
    head += " unseen: WER beam + lexicon | unseen: WER greedy |" if unseen else ""
    lines = [head + " train time |", "|" + " --- |" + " ---: |" * (head.count("|") - 1)]
    for row in results["recipes"]:
        lexicon = "_lexicon" if "test_wer_beam_lexicon" in row else ""  # beam decodes with the lexicon if any
        cells = [row["recipe"], row[f"test_wer_beam{lexicon}"], row["test_wer_greedy"], row["test_wer_beam"],
                 row["test_cer_greedy"]]
        if unseen:
            cells += [row[f"unseen_wer_beam{lexicon}"], row["unseen_wer_greedy"]]
        lines.append("| " + " | ".join(c if isinstance(c, str) else f"{c:.3f}" for c in cells)
                     + f" | {row['train_seconds']:.0f} s |")
    bucketing = results.get("bucketing")
    if bucketing:
        lines += ["", f"Epoch of the default model ({bucketing['train_clips']} clips, batch {bucketing['batch_size']}), "
                  "median seconds: random batches "
                  f"{np.median(bucketing['epoch_seconds']['random']):.1f} s ({bucketing['padding_share']['random']:.0%} "
                  f"padding), length-bucketed {np.median(bucketing['epoch_seconds']['bucketed']):.1f} s "
                  f"({bucketing['padding_share']['bucketed']:.0%} padding): {bucketing['speedup']}x."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
