"""Serving throughput and latency: the case studies' FastAPI pattern against ``torchworks serve``.

Two ticket routers trained on the ``tickets`` sample (6 classes): ``minilm``, the quickstart (a
frozen MiniLM transformer encoder and a linear head), and ``bigru``, a small bidirectional GRU.
For each, one closed-loop load generator sends the same requests (real tickets from
``benchmarks/data``, one text per request, as a support desk would send them) to every server, at
every concurrency level:

* **naive**: FastAPI + uvicorn calling the eager model once per request, the way the case studies end
  (a plain ``def`` endpoint in FastAPI's thread pool, ``torchworks.load(run).predict([text])``);
* **torchworks eager**: ``torchworks serve RUN --backend eager`` (dynamic batching);
* **torchworks onnx**: ``torchworks serve RUN --backend onnx`` (dynamic batching, ONNX Runtime);
* **bentoml** (when BentoML is installed): a BentoML 1.4 service around the same eager predictor with
  its adaptive batching (``batchable=True``, batches of up to 32), BentoML's own defaults otherwise;
* **torchworks onnx-int8**: the same with the run's int8 ONNX export, when it passed its parity gate (the
  test macro-F1 it scored is printed and stored next to the rows).

Each server runs alone in its own process on the same cores; the load generator is one asyncio loop
with N keep-alive connections, each sending its next request as soon as the previous answer arrives.
A soak run then holds torchworks (ONNX) at the highest concurrency for ``--soak`` seconds and counts
5xx answers, dropped connections and the server's memory.

    .venv/bin/python benchmarks/serve_load.py [--concurrency 1 8 32 64] [--seconds 15] [--soak 60]

Writes ``benchmarks/results/serve_load.json`` and ``benchmarks/results/serve_load.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

HERE = Path(__file__).parent
TEXTS = [json.loads(line)["text"] for line in (HERE / "data" / "tickets_independent.jsonl").read_text().splitlines()
         if line.strip()]
MODELS = {"minilm": {}, "bigru": {"model": "bigru", "freeze": "none"}}
NAIVE_SERVER = '''
import sys
from fastapi import FastAPI
from pydantic import BaseModel
import torchworks

predictor = torchworks.load(sys.argv[1])
app = FastAPI()

class Request(BaseModel):
    inputs: list[str]

@app.post("/v1/models/model/predict")
def predict(request: Request):
    return {"predictions": predictor.predict(list(request.inputs))}

if __name__ == "__main__":
    import uvicorn
    print("ready", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per level")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--soak", type=float, default=60.0, help="seconds at the highest level (0: skip)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--bentoml-python", type=Path, default=_bentoml_python(),
                        help="a Python that can import both bentoml and torchworks (default: this one, if it can)")
    args = parser.parse_args()
    rows, soak, parity = [], None, {}
    with tempfile.TemporaryDirectory() as scratch:
        for model in args.models:
            run, exports = train_model(Path(scratch), model)
            servers = {
                "naive": lambda port, run=run: [sys.executable, "-c", NAIVE_SERVER, str(run), str(port)],
                "torchworks eager": lambda port, run=run: _serve(run, port, "eager"),
                "torchworks onnx": lambda port, run=run: _serve(run, port, "onnx"),
            }
            if args.bentoml_python:
                servers["bentoml"] = lambda port, run=run: _bentoml(args.bentoml_python, Path(scratch), run, port)
            if exports["onnx-int8"]["status"] == "passed":
                servers["torchworks onnx-int8"] = lambda port, run=run: _serve(run, port, "onnx-int8")
            parity[model] = {fmt: entry["parity"] for fmt, entry in exports.items()}
            print(json.dumps({"parity": {model: parity[model]}}), flush=True)
            for name, command in servers.items():
                with Server(command) as server:
                    for clients in args.concurrency:
                        asyncio.run(load(server.port, clients, args.warmup))
                        measured = asyncio.run(load(server.port, clients, args.seconds))
                        row = {"model": model, "server": name, "clients": clients, **measured,
                               "rss_mb": round(server.rss() / 2**20)}
                        rows.append(row)
                        print(json.dumps(row), flush=True)
            if args.soak and soak is None:
                soak = {"model": model, **run_soak(servers["torchworks onnx"], max(args.concurrency), args.soak)}
    write_results(args.out, rows, soak, parity)


def train_model(root: Path, model: str) -> tuple[Path, dict]:
    """The trained run and its ``onnx`` and ``onnx-int8`` export entries (with their parity gates)."""
    import torchworks
    from torchworks.engine.export import export
    from torchworks.tasks import get_task

    settings = {**get_task("text-classification").quickstart_settings(), **MODELS[model], "output": str(root),
                "mlflow": False, "progress": False, "name": model}
    run = torchworks.train("text-classification", **settings).path
    return run, {result.format: result.entry for result in export(run, "onnx,onnx-int8")}


def _serve(run: Path, port: int, backend: str) -> list[str]:
    return [sys.executable, "-m", "torchworks", "serve", f"model={run}", "--port", str(port), "--backend", backend,
            "--queue-size", "1024"]


BENTOML_SERVICE = '''
import os

import bentoml
import torchworks


@bentoml.service(workers=1, traffic={"timeout": 60})
class Model:
    def __init__(self) -> None:
        self.predictor = torchworks.load(os.environ["TORCHWORKS_RUN"])

    @bentoml.api(route="/v1/models/model/predict", batchable=True, max_batch_size=32, max_latency_ms=30000)
    def predict(self, inputs: list[str]) -> list[dict]:
        return self.predictor.predict(inputs)
'''


def _bentoml_python() -> Path | None:
    import importlib.util

    return Path(sys.executable) if importlib.util.find_spec("bentoml") else None


def _bentoml(python: Path, scratch: Path, run: Path, port: int) -> list[str]:
    (scratch / "bentoml_service.py").write_text(BENTOML_SERVICE)
    os.environ["TORCHWORKS_RUN"] = str(run)
    return [str(python), "-m", "bentoml", "serve", "bentoml_service:Model", "--working-dir", str(scratch),
            "--host", "127.0.0.1", "--port", str(port)]


class Server:
    """A server process (and its workers) on a free port, ready when entered, stopped when left. Its log
    goes to a file: a pipe nobody reads would stall a server that logs every request."""

    def __init__(self, command):
        self.port = _free_port()
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command(self.port), stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(self.log.read().decode(errors="replace")[-2000:])
            try:
                response = httpx.post(f"http://127.0.0.1:{self.port}/v1/models/model/predict",
                                      json={"inputs": [TEXTS[0]]}, timeout=5)
                if response.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError("server did not start")

    def rss(self) -> int:
        """Resident memory of the server and every process it started."""
        parent = psutil.Process(self.process.pid)
        return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])

    def __exit__(self, *exc) -> None:
        import signal

        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def load(port: int, clients: int, seconds: float) -> dict:
    """``clients`` keep-alive connections in a closed loop for ``seconds``."""
    stop_at = time.perf_counter() + seconds
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    dropped = [0]
    await asyncio.gather(*(_client(port, number, stop_at, latencies, statuses, dropped) for number in range(clients)))
    latencies.sort()
    done = len(latencies)
    return {
        "throughput": round(statuses.get(200, 0) / seconds, 1),
        "p50_ms": round(1000 * latencies[done // 2], 1) if done else None,
        "p99_ms": round(1000 * latencies[min(done - 1, int(0.99 * done))], 1) if done else None,
        "requests": done,
        "non_200": sum(count for status, count in statuses.items() if status != 200),
        "server_errors": sum(count for status, count in statuses.items() if status >= 500),
        "dropped": dropped[0],
    }


async def _client(port: int, number: int, stop_at: float, latencies: list, statuses: dict, dropped: list) -> None:
    reader = writer = None
    sent = number
    while time.perf_counter() < stop_at:
        if writer is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = json.dumps({"inputs": [TEXTS[sent % len(TEXTS)]]}).encode()
        sent += 1
        request = (f"POST /v1/models/model/predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
        started = time.perf_counter()
        try:
            writer.write(request)
            await writer.drain()
            status, close = await _read_response(reader)
        except (ConnectionError, asyncio.IncompleteReadError):
            dropped[0] += 1
            writer = None
            continue
        latencies.append(time.perf_counter() - started)
        statuses[status] = statuses.get(status, 0) + 1
        if close:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() == "close"


def run_soak(command, clients: int, seconds: float) -> dict:
    with Server(command) as server:
        asyncio.run(load(server.port, clients, 3))
        before = server.rss()
        result = asyncio.run(load(server.port, clients, seconds))
        after = server.rss()
    soak = {"clients": clients, "seconds": seconds, **result, "rss_start_mb": round(before / 2**20),
            "rss_end_mb": round(after / 2**20)}
    print(json.dumps({"soak": soak}), flush=True)
    return soak


def write_results(out: Path, rows: list[dict], soak: dict | None, parity: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    naive = {(row["model"], row["clients"]): row for row in rows if row["server"] == "naive"}
    lines = ["| model | server | clients | requests/s | p50 ms | p99 ms | vs naive (throughput) | non-200 | RSS MB |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        base = naive.get((row["model"], row["clients"]), {}).get("throughput") or 0
        ratio = f"{row['throughput'] / base:.2f}x" if base else "-"
        lines.append(f"| {row['model']} | {row['server']} | {row['clients']} | {row['throughput']} | {row['p50_ms']} "
                     f"| {row['p99_ms']} | {ratio} | {row['non_200']} | {row['rss_mb']} |")
    if soak:
        lines += ["", f"Soak: torchworks (ONNX, {soak['model']}) at {soak['clients']} clients for {soak['seconds']:g} s: "
                      f"{soak['requests']} requests, {soak['throughput']} req/s, p99 {soak['p99_ms']} ms, "
                      f"{soak['server_errors']} 5xx, {soak['dropped']} dropped connections, "
                      f"server memory {soak['rss_start_mb']} MB -> {soak['rss_end_mb']} MB."]
    for model, gates in parity.items():
        lines += ["", f"Parity gates of {model}'s exports (test split): " + "; ".join(
            f"{fmt} {gate['metric']} {gate['export']:.4f} vs eager {gate['eager']:.4f}" for fmt, gate in gates.items())]
    header = (f"Ticket routers on the tickets sample, one text per request. {os.cpu_count()} CPU cores shared by "
              "the server and the load generator.\n\n")
    (out / "serve_load.md").write_text(header + "\n".join(lines) + "\n")
    (out / "serve_load.json").write_text(json.dumps({"rows": rows, "soak": soak, "parity": parity,
                                                     "cpus": os.cpu_count()}, indent=2) + "\n")
    print("\n".join(lines))
    print(f"results: {out / 'serve_load.md'}")


if __name__ == "__main__":
    main()
