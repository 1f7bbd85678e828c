"""Fixtures for the server: apps built over bundles, a tiny text bundle, and a real ``torchworks
serve`` process on a free loopback port (``image_run`` comes from tests/conftest.py)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import torchworks
from torchworks.server.startup import load_models
from torchworks.server.app import build_app
from torchworks.server.settings import ServeSettings

BASE_URL = "http://127.0.0.1:8080"


@pytest.fixture(scope="session")
def shapes_png(image_run) -> bytes:
    return (image_run.parent.parent.parent / "shapes" / "circle" / "000.png").read_bytes()


@pytest.fixture
def make_app():
    """``make_app([refs], **settings) -> (app, models)``: an app over bundles, not yet started."""

    def make(references: list[str], **settings):
        config = ServeSettings(**{"max_wait_ms": 1.0, **settings})
        models, metrics = load_models([str(r) for r in references], config)
        return build_app(models, config, metrics), models

    return make


def serve_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "torchworks", "serve", *arguments]


@contextlib.contextmanager
def server_process(arguments: list[str], *, prelude: str = "", env: dict | None = None, timeout: float = 90):
    """A ``torchworks serve`` child on a free port; yields ``(process, base_url)``; stops it after.

    ``prelude`` is Python run in the child before the CLI (to make the model slow, for example).
    """
    code = f"{prelude}\nimport sys\nfrom torchworks.cli.main import main\nsys.argv = ['torchworks', 'serve', " \
           f"*{arguments!r}]\nmain()\n"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, **(env or {})}, start_new_session=True)
    try:
        url = _announced_url(process, timeout)
        _wait_ready(url, timeout)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def _announced_url(process: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise AssertionError(f"serve exited {process.returncode}: {process.stderr.read()[-2000:]}")
        found = re.search(r"at (http://\S+)", line)
        if found:
            return found.group(1)
    raise AssertionError("serve did not announce its address")


def _wait_ready(url: str, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError("serve never became ready")


def copy_run(run: Path, target: Path) -> Path:
    shutil.copytree(run, target)
    return target


def terminate(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGTERM)


@pytest.fixture(name="server_process")
def _server_process_fixture():
    """The :func:`server_process` context manager, for tests."""
    return server_process


@pytest.fixture(scope="session")
def text_run(tmp_path_factory) -> Path:
    """A tiny ticket router (billing / shipping / account) that learns its keywords in a few seconds."""
    root = tmp_path_factory.mktemp("served-text")
    words = {"billing": ["refund", "invoice", "charged", "card"], "shipping": ["parcel", "courier", "tracking", "late"],
             "account": ["password", "login", "email", "locked"]}
    lines = ["text,label"]
    for i in range(90):
        label = list(words)[i % 3]
        chosen = words[label]
        lines.append(f"my {chosen[i % 4]} and {chosen[(i + 1) % 4]} please {i % 7},{label}")
    (root / "tickets.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = torchworks.train("text-classification", data=str(root / "tickets.csv"), output=str(root / "runs"),
                           name="tickets", model="bigru", embedding_dim=16, hidden=16, layers=1, freeze="none",
                           epochs=8, batch_size=8, lr=0.01, mlflow=False, progress=False)
    return run.path


@pytest.fixture(scope="session")
def forecast_run(tmp_path_factory) -> Path:
    """A tiny weekly forecaster of two stores with a 0.1-0.9 interval (lookback 8, horizon 4); its
    data is ``run.parents[2] / "sales.csv"`` (seconds to train)."""
    import numpy as np
    import pandas as pd

    root = tmp_path_factory.mktemp("served-forecast")
    steps, noise = np.arange(80), np.random.default_rng(0).normal(0, 1.5, (2, 80))
    frame = pd.concat([pd.DataFrame({"week": pd.date_range("2022-01-01", periods=80, freq="W-SAT"), "store": store,
                                     "sales": level + 5 * np.sin(steps / 2) + 0.1 * steps + noise[i]})
                       for i, (store, level) in enumerate((("north", 50), ("south", 60)))])
    frame.to_csv(root / "sales.csv", index=False)
    run = torchworks.train("forecasting", data=str(root / "sales.csv"), output=str(root / "runs"), name="sales",
                           time="week", target="sales", series_id="store", lookback=8, horizon=4, model="dlinear",
                           quantiles="0.1,0.5,0.9", epochs=10, lr=0.03, batch_size=16, baselines=False, mlflow=False,
                           progress=False)
    return run.path
