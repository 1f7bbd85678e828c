"""Segmentation on the CPU: the default U-Net's latency on a 512 x 512 image, eager against its exports, and
the peak memory of predicting an 8,000 x 8,000 image in tiles against predicting smaller images whole.

Latency: the run's eager model, its TorchScript and its ONNX Runtime export (made and parity-checked
through ``torchworks.export`` when the run has none), each called on the same 512 x 512 batch of one with
the same threads, median and p90 of ``--calls`` timed calls after warm-up.

Memory: each prediction runs in a fresh process (``torchworks.load(run).predict(image, ...)``). Once the
model is loaded the kernel's peak-resident counter is reset (``/proc/self/clear_refs``, Linux), and the
table reports the peak while predicting and how far it rose above what was resident before. The images are generated
street-like scenes scaled up (a PNG per size, written once into ``--work``). Tiled prediction holds the
image as bytes, one band of blended probabilities ``tile`` rows high and the two output maps; a
whole-image pass holds the image as floats, every activation of the network and the logits.

    .venv/bin/python benchmarks/segmentation_speed.py                  # trains a 1-epoch lesions run first
    .venv/bin/python benchmarks/segmentation_speed.py --run runs/segmentation/lesions --threads 2

Writes ``benchmarks/results/segmentation_speed.json`` and ``benchmarks/results/segmentation_speed.md``.
The weights do not change the timings or the memory, so a short run is enough; the run's architecture
(``base_channels``, ``depth``) does.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import torch

import torchworks

HERE = Path(__file__).parent
LATENCY_SIDE = 512
BIG_SIDE = 8000
# (side, tile): whole-image passes at growing sizes, tiled passes at three tiles, and the big image tiled
MEMORY_CASES = ((1000, 0), (2000, 0), (4000, 0), (4000, 256), (4000, 512), (4000, 1024), (BIG_SIDE, 512))

CHILD = """
import json, sys, time
import torchworks

def status(field):  # kB, from the kernel's accounting of this process
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

run, image, tile = sys.argv[1], sys.argv[2], int(sys.argv[3])
predictor = torchworks.load(run)
predictor.bundle.state["max_pixels"] = 10**9  # whole-image passes of large images are measured, not refused
open("/proc/self/clear_refs", "w").write("5")  # the peak starts again from what loading left resident
before = status("VmRSS")
started = time.perf_counter()
records = predictor.predict([image], tile=tile, overlap=0.25)
seconds = time.perf_counter() - started
assert all("error" not in record for record in records), records
print(json.dumps({"before_mb": before / 1024, "peak_mb": status("VmHWM") / 1024, "seconds": seconds}))
"""

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a segmentation run (default: train a 1-epoch U-Net on the lesions sample)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calls", type=int, default=30, help="timed calls per runtime")
    parser.add_argument("--work", default=None, help="folder for the generated images and the run (default: a temp)")
    parser.add_argument("--skip-memory", action="store_true", help="time the runtimes only; keep the memory rows "
                        "of the last results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.work or tempfile.mkdtemp(prefix="segmentation-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    run = Path(args.run) if args.run else _short_run(work)
    latency = _latencies(run, args.threads, args.calls)
    out = HERE / "results"
    earlier = out / "segmentation_speed.json"
    if args.skip_memory:
        memory = json.loads(earlier.read_text())["memory"] if earlier.exists() else []
    else:
        memory = _memory(run, work)
    architecture = torchworks.load(run).bundle.state.get("architecture")
    result = {"date": date.today().isoformat(), "cpu": platform.processor() or platform.machine(),
              "threads": args.threads, "run": str(run), "architecture": architecture,
              "latency_512": latency, "memory": memory}
    out.mkdir(exist_ok=True)
    (out / "segmentation_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "segmentation_speed.md").write_text(_markdown(result))
    print(_markdown(result))
    print(f"results: {out / 'segmentation_speed.md'}")


def _short_run(work: Path) -> Path:
    """A U-Net with the default architecture, trained one short epoch on the lesions sample."""
    return torchworks.train("segmentation", data="lesions", epochs=1, output=str(work / "runs"), name="speed",
                            mlflow=False, progress=False, baselines=False).path


def _latencies(run: Path, threads: int, calls: int) -> list[dict]:
    """Median and p90 milliseconds of one 512 x 512 image through eager, TorchScript and ONNX Runtime."""
    from torchworks.bundle.exports import available_exports, verified_export
    from torchworks.bundle.io import read_bundle
    from torchworks.engine.runners import EagerRunner, load_runner_file

    bundle = read_bundle(run)
    missing = [fmt for fmt in ("onnx", "torchscript") if fmt not in available_exports(bundle)]
    if missing:
        torchworks.export(run, ",".join(missing))
        bundle = read_bundle(run)
    image = torch.rand(1, 3, LATENCY_SIDE, LATENCY_SIDE)

    def runner_of(name: str):
        if name == "eager":
            return EagerRunner(torchworks.load(run).model)
        path, entry = verified_export(bundle, name)
        return load_runner_file(name, path, list(entry.get("inputs") or ["input"]), threads, entry.get("outputs"))

    rows = []
    for name in ("eager", "torchscript", "onnx"):  # one runtime at a time: none has threads waiting meanwhile
        runner = runner_of(name)
        for _ in range(3):
            runner(image)
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            runner(image)
            times.append(1000 * (time.perf_counter() - started))
        del runner
        times.sort()
        rows.append({"runtime": name, "p50_ms": round(statistics.median(times), 1),
                     "p90_ms": round(times[int(0.9 * (len(times) - 1))], 1)})
    eager = rows[0]["p50_ms"]
    for row in rows:
        row["speedup"] = round(eager / row["p50_ms"], 2)
    return rows


def _memory(run: Path, work: Path) -> list[dict]:
    """Peak memory of a process predicting each of :data:`MEMORY_CASES`: the peak while predicting, and
    how far it rose above what the loaded model (torch, the bundle) already held."""
    rows = []
    for side, tile in MEMORY_CASES:
        image = _scene_image(work, side)
        measured = _child(run, str(image), tile)
        rows.append({"side": side, "pixels": side * side, "tile": tile or "whole image",
                     "peak_mb": round(measured["peak_mb"]), "above_loaded_mb": round(measured["peak_mb"]
                                                                                      - measured["before_mb"]),
                     "seconds": round(measured["seconds"], 1)})
        print(rows[-1], flush=True)
    return rows


def _child(run: Path, image: str, tile: int) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(run), image, str(tile)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"prediction of {image} (tile={tile}) failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _scene_image(work: Path, side: int) -> Path:
    """A ``side`` x ``side`` PNG: a 256 px street scene scaled up (written once)."""
    path = work / f"scene_{side}.png"
    if not path.exists():
        from PIL import Image

        from torchworks.scenes.street import render_scene

        scene = Image.fromarray(render_scene(3, size=256, seed=0).image)
        scene.resize((side, side), Image.Resampling.BILINEAR).save(path, compress_level=1)
    return path


def _markdown(result: dict) -> str:
    lines = [f"# Segmentation speed and memory ({result['date']}, {result['cpu']}, {result['threads']} threads)", "",
             f"Model: {result['architecture']}", "", f"## Latency, one {LATENCY_SIDE} x {LATENCY_SIDE} image", "",
             "| runtime | p50 ms | p90 ms | speed-up over eager |", "|---|---:|---:|---:|"]
    lines += [f"| {r['runtime']} | {r['p50_ms']} | {r['p90_ms']} | {r['speedup']}x |" for r in result["latency_512"]]
    if result["memory"]:
        lines += ["", "## Peak memory of one prediction process", "",
                  "| image | tile | peak MB | rise while predicting, MB | seconds |", "|---|---|---:|---:|---:|"]
        for row in result["memory"]:
            lines.append(f"| {row['side']} x {row['side']} | {row['tile']} | {row['peak_mb']} | "
                         f"{row['above_loaded_mb']} | {row['seconds']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
