"""Object detection on video: frames per second of the whole prediction path on 2 CPU threads.

The goal (issue 19): the default model at 320 px processes a video at 25 frames per second or more
through its fastest passing export. What is timed is what ``torchworks predict RUN clip.mp4`` does
for each frame: decode (PyAV), letterbox, run the model (eager, or an export that passed its parity
gate), decode and filter the boxes, put them back in the frame's pixels, and make the records; with
``--track`` the tracker too. Nothing is written (the annotated video is a separate cost, timed on
its own). Batch 1 is a live stream (each frame as it arrives); batch 16 is a file read ahead.

The run is exported (``format=all``, each export kept only if it passes its parity gate) into its own
folder first, as ``torchworks export RUN format=all`` would. The clip: a 320 x 320 camera panning across a 640 x 640 generated scene (the sample's generator),
300 frames at 30 frames per second, H.264.

    .venv/bin/python benchmarks/detection_video.py --run runs/object-detection/RUN
    .venv/bin/python benchmarks/detection_video.py              # trains a short run first (2 epochs)

Writes ``benchmarks/results/detection_video.json`` and ``benchmarks/results/detection_video.md``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import torch

import torchworks

HERE = Path(__file__).parent
TASK = "object-detection"
THREADS = 2
FRAMES = 300
FRAME_SIZE = 320
GOAL_FPS = 25.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a trained object-detection run (default: train a 2-epoch one)")
    parser.add_argument("--frames", type=int, default=FRAMES)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the clip; the best is kept")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    with tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        run = Path(args.run) if args.run else torchworks.train(TASK, data="detection-scenes", epochs=2, output=work,
                                                               name="video", mlflow=False, progress=False).path
        clip = write_panning_clip(work / "pan.mp4", args.frames)
        exports = {result.format: result.status for result in torchworks.export(run, format="all")}
        rows = [measure(run, clip, runtime, batch, track, args.repeats)
                for runtime in ("eager", *[fmt for fmt, status in exports.items() if status == "passed"])
                for batch, track in ((1, False), (16, False), (1, True))]
        rows.append(measure_writing(run, clip, work))
    passing = [row for row in rows if row.get("runtime") != "eager" and row.get("batch") == 1 and not row["track"]]
    best = max(passing, key=lambda row: row["fps"], default=None)
    result = {"run": str(run), "threads": THREADS, "frames": args.frames, "frame_size": FRAME_SIZE,
              "exports": exports, "rows": rows, "goal_fps": GOAL_FPS,
              "best_export": best and {"runtime": best["runtime"], "fps": best["fps"]}}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "detection_video.json").write_text(json.dumps(result, indent=2) + "\n")
    (HERE / "results" / "detection_video.md").write_text(markdown(result))
    print(markdown(result))


def write_panning_clip(path: Path, frames: int) -> Path:
    """A camera of ``FRAME_SIZE`` pixels panning back and forth across a scene twice as large."""
    import av
    import numpy as np

    from torchworks.scenes.street import render_scene

    scene = render_scene(7, size=2 * FRAME_SIZE).image
    span = scene.shape[0] - FRAME_SIZE
    with av.open(str(path), "w") as container:
        stream = container.add_stream("h264", rate=Fraction(30))
        stream.width = stream.height = FRAME_SIZE
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            phase = (index / max(1, frames - 1)) * 2 * np.pi
            x = int(span * (0.5 - 0.5 * np.cos(phase)))
            y = int(span * (0.5 - 0.5 * np.cos(phase / 2)))
            frame = np.ascontiguousarray(scene[y:y + FRAME_SIZE, x:x + FRAME_SIZE])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def measure(run: Path, clip: Path, runtime: str, batch: int, track: bool, repeats: int) -> dict:
    """Frames per second of the prediction path (best of ``repeats`` passes over the clip)."""
    from torchworks.engine.loading import load_model
    from torchworks.engine.predict import predict_items, prediction_state
    from torchworks.engine.runners import choose_runner

    bundle, task, _, model = load_model(run)
    runner = choose_runner(runtime, bundle, model, THREADS)
    state = prediction_state(task, bundle, {"track": track})
    times, records = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        records = predict_items(task, runner, [clip], state, top_k=1, batch_size=batch).records
        times.append(time.perf_counter() - started)
    frames = len(records)
    boxes = sum(len(record.get("boxes", [])) for record in records)
    row = {"runtime": runtime, "batch": batch, "track": track, "frames": frames,
           "fps": round(frames / min(times), 1), "boxes_per_frame": round(boxes / max(1, frames), 2)}
    print(json.dumps(row), flush=True)
    return row


def measure_writing(run: Path, clip: Path, work: Path) -> dict:
    """What ``--output`` adds: the records and the annotated video written (eager model, batch 16)."""
    predictor = torchworks.load(run)
    started = time.perf_counter()
    records = predictor.predict([clip])
    predicted = time.perf_counter() - started
    predictor.save(records, work / "pan.json")
    total = time.perf_counter() - started
    row = {"runtime": "eager", "batch": predictor.config.batch_size, "track": False, "frames": len(records),
           "fps": round(len(records) / total, 1), "writing_share": round(1 - predicted / total, 2),
           "note": "records and annotated video written"}
    print(json.dumps(row), flush=True)
    return row


def markdown(result: dict) -> str:
    lines = [f"# Object detection on video ({result['frames']} frames of {result['frame_size']} px, "
             f"{result['threads']} CPU threads)", "",
             "The whole prediction path per frame: video decoding, letterbox, model, box decoding and NMS, "
             "records (and the tracker where it says so). Batch 1 is a live stream.", "",
             "| runtime | batch | tracking | frames/s | boxes/frame | note |",
             "| --- | ---: | --- | ---: | ---: | --- |"]
    for row in result["rows"]:
        lines.append(f"| {row['runtime']} | {row['batch']} | {'yes' if row['track'] else 'no'} | {row['fps']:.1f} | "
                     f"{row.get('boxes_per_frame', '-')} | {row.get('note', '')} |")
    best = result.get("best_export")
    exports = ", ".join(f"{fmt} {status}" for fmt, status in result["exports"].items())
    lines += ["", f"Exports and their parity gates: {exports}."]
    if best:
        verdict = "meets" if best["fps"] >= result["goal_fps"] else "misses"
        lines.append(f"The fastest passing export, {best['runtime']}, runs a live stream (batch 1) at "
                     f"{best['fps']:.1f} frames/s: it {verdict} the goal of {result['goal_fps']:g}.")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
