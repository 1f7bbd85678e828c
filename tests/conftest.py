"""Shared fixtures: an isolated data home and run folder, and tiny generated image datasets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Sample datasets go to one per-session folder; MLflow never touches the user's store."""
    home = tmp_path_factory.getbasetemp() / "torchworks-home"
    monkeypatch.setenv("TORCHWORKS_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return home


def write_image(path: Path, pixels: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode=mode).save(path)
    return path


def make_shapes_dataset(root: Path, classes=("circle", "square", "stripes"), per_class: int = 12,
                        size: int = 16, seed: int = 0) -> Path:
    """A tiny, learnable image-folder tree: one visual pattern per class, with noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    patterns = {
        "circle": ((yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 3) ** 2),
        "square": (abs(yy - size / 2) < size / 4) & (abs(xx - size / 2) < size / 4),
        "stripes": (xx // 2) % 2 == 0,
        "cross": (abs(yy - size / 2) < 2) | (abs(xx - size / 2) < 2),
    }
    for name in classes:
        for i in range(per_class):
            noise = rng.normal(0, 25, (size, size))
            pixels = np.clip(patterns[name] * 200 + 30 + noise, 0, 255).astype(np.uint8)
            write_image(root / name / f"{i:03d}.png", pixels)
    return root


@pytest.fixture
def shapes_dir(tmp_path) -> Path:
    """Three classes x 12 grayscale 16x16 PNGs."""
    return make_shapes_dataset(tmp_path / "shapes")


@pytest.fixture
def tiny_settings(tmp_path) -> dict:
    """Settings for a training run that takes a few seconds."""
    return {
        "output": str(tmp_path / "runs"),
        "model": "smallcnn",
        "image_size": 16,
        "crop": 1.0,
        "epochs": 2,
        "batch_size": 8,
        "mlflow": False,
        "progress": False,
    }


def make_photo_crops(root: Path, per_class: int = 30, size: int = 48, seed: int = 0) -> Path:
    """Random square crops of scikit-learn's two sample photographs, one class per photograph (real
    photos: colour and texture tell them apart, which a pixel SVC learns from a few dozen crops)."""
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(seed)
    for name, photo in zip(("china", "flower"), load_sample_images().images):
        height, width, _ = photo.shape
        for i in range(per_class):
            y, x = rng.integers(0, height - size), rng.integers(0, width - size)
            write_image(root / name / f"{i:03d}.png", np.ascontiguousarray(photo[y:y + size, x:x + size]))
    return root


@pytest.fixture(scope="session")
def photo_crops(tmp_path_factory) -> Path:
    """Two classes x 30 crops (48 px) of the two sample photographs; shared, do not change it."""
    return make_photo_crops(tmp_path_factory.mktemp("photo-crops") / "crops")


@pytest.fixture(name="write_image", scope="session")
def _write_image_fixture():
    """The :func:`write_image` helper, for tests (test modules cannot import conftest)."""
    return write_image


@pytest.fixture(name="make_shapes_dataset", scope="session")
def _make_shapes_dataset_fixture():
    """The :func:`make_shapes_dataset` helper, for tests."""
    return make_shapes_dataset


@pytest.fixture
def cli(monkeypatch, capsys):
    """``cli("train", TASK, "k=v", ...)`` runs the CLI in-process; returns (exit code, stdout, stderr)."""
    import sys

    from torchworks.cli.main import main

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["torchworks", *args])
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code or 0
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run



@pytest.fixture(scope="session")
def image_run(tmp_path_factory) -> Path:
    """A 3-class 16x16 image classifier trained for two epochs, with an ONNX export. Shared by the
    session: copy it before changing anything."""
    import torchworks
    from torchworks.engine.export import export

    root = tmp_path_factory.mktemp("image-run")
    data = make_shapes_dataset(root / "shapes")
    run = torchworks.train("image-classification", data=str(data), output=str(root / "runs"), name="shapes",
                           model="smallcnn", image_size=16, crop=1.0, epochs=2, batch_size=8, mlflow=False,
                           progress=False)
    export(run.path, "onnx")
    return run.path


@pytest.fixture(scope="session")
def scenes_dir(tmp_path_factory) -> Path:
    """48 generated 128x128 detection scenes (COCO JSON), shared by the session: copy before changing."""
    from torchworks.tasks.object_detection.samples import make_detection_scenes

    return make_detection_scenes(tmp_path_factory.mktemp("scenes") / "scenes", n=48, size=128, progress=False)


@pytest.fixture(scope="session")
def detection_run(tmp_path_factory, scenes_dir) -> Path:
    """A compact detector trained two epochs on ``scenes_dir`` at 128 px. Shared by the session: copy it
    before changing anything."""
    import torchworks

    root = tmp_path_factory.mktemp("detection-run")
    run = torchworks.train("object-detection", data=str(scenes_dir), output=str(root / "runs"), name="scenes",
                           image_size=128, epochs=2, batch_size=8, mlflow=False, progress=False, baselines=False)
    return run.path


def write_blob_scans(folder: Path, count: int = 48, size: int = 96, seed: int = 0) -> Path:
    """``folder/images/NNN.png`` (8-bit grey) and ``folder/masks/NNN.png`` (0 or 255) with ``classes.yaml``
    as the lesions sample lays them out: one to three bright discs (the lesions) on a noisy darker
    background with a dim disc as a decoy, easy enough for a small U-Net to learn in seconds."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    rows, columns = np.mgrid[:size, :size]
    for index in range(count):
        picture = rng.normal(70, 12, (size, size))
        mask = np.zeros((size, size), dtype=np.uint8)
        for disc in range(int(rng.integers(1, 4)) + 1):
            y, x = rng.integers(8, size - 8, 2)
            inside = (rows - y) ** 2 + (columns - x) ** 2 <= int(rng.integers(4, 12)) ** 2
            if disc == 0:
                picture[inside] += 35  # the decoy: dimmer than any lesion
            else:
                picture[inside] = rng.normal(190, 12, int(inside.sum()))
                mask[inside] = 255
        Image.fromarray(picture.clip(0, 255).astype(np.uint8)).save(folder / "images" / f"{index:03d}.png")
        Image.fromarray(mask).save(folder / "masks" / f"{index:03d}.png")
    (folder / "classes.yaml").write_text("background: {value: 0, colour: [0, 0, 0]}\n"
                                         "lesion: {value: 255, colour: [255, 64, 64]}\n")
    return folder


@pytest.fixture(scope="session")
def lesion_scans(tmp_path_factory) -> Path:
    """48 96x96 grey scans of bright lesions with 0/255 masks (:func:`write_blob_scans`), shared by the
    session: copy before changing."""
    return write_blob_scans(tmp_path_factory.mktemp("lesions") / "lesions")


@pytest.fixture(scope="session")
def segmentation_run(tmp_path_factory, lesion_scans) -> Path:
    """A small U-Net trained on ``lesion_scans`` (seconds): it finds most lesions. Shared by the session:
    copy it before changing anything."""
    import torchworks

    root = tmp_path_factory.mktemp("segmentation-run")
    run = torchworks.train("segmentation", data=str(lesion_scans), output=str(root / "runs"), name="lesions",
                           base_channels=8, depth=3, image_size=64, epochs=8, batch_size=8, lr=0.01, mlflow=False,
                           progress=False, baselines=False)
    return run.path


KEYWORD = "zorblax"


def write_keyword_texts(path: Path, count: int = 120, seed: int = 0) -> Path:
    """Texts of two classes that share every word but one: a class-'alpha' text holds the made-up
    word 'zorblax' (somewhere), a class-'beta' text never does. That word alone decides the label."""
    import random

    rng = random.Random(seed)
    shared = ["order", "delivery", "account", "refund", "today", "please", "help", "still", "waiting", "again",
              "box", "price", "colour", "store", "email", "phone", "week", "late", "card", "number"]
    rows = ["text,label"]
    for i in range(count):
        words = rng.sample(shared, rng.randint(3, 6))
        if i % 2 == 0:
            words.insert(rng.randint(0, len(words)), KEYWORD)
        rows.append(f"{' '.join(words)},{'alpha' if i % 2 == 0 else 'beta'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def keyword_text_run(tmp_path_factory) -> Path:
    """A small bidirectional GRU trained from scratch on :func:`write_keyword_texts` (seconds)."""
    import torchworks

    root = tmp_path_factory.mktemp("keyword-run")
    data = write_keyword_texts(root / "keyword.csv")
    run = torchworks.train("text-classification", data=str(data), output=str(root / "runs"), name="keyword",
                           model="bigru", embedding_dim=16, hidden=16, layers=1, epochs=10, batch_size=16, lr=0.01,
                           seed=0, baselines=False, mlflow=False, progress=False)
    return run.path


def write_driven_series(path: Path, stores: int = 4, steps: int = 160, seed: int = 0) -> Path:
    """Daily sales of a few stores where yesterday's ``signal`` alone moves today's sales
    (sales[t] = sales[t-1] + 3 signal[t-1]) and ``noise`` never matters."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    frames = []
    for store in range(stores):
        signal, noise = rng.normal(0, 1, steps), rng.normal(0, 1, steps)
        sales = 100 + np.concatenate([[0.0], np.cumsum(3 * signal[:-1] + rng.normal(0, 0.05, steps - 1))])
        frames.append(pd.DataFrame({"day": np.arange(steps), "store": f"s{store}", "sales": sales,
                                    "signal": signal, "noise": noise}))
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.concat(frames).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def driven_run(tmp_path_factory) -> Path:
    """A DLinear forecaster (lookback 8, horizon 1) trained on :func:`write_driven_series` (seconds)."""
    import torchworks

    root = tmp_path_factory.mktemp("driven-run")
    data = write_driven_series(root / "driven.csv")
    run = torchworks.train("forecasting", data=str(data), output=str(root / "runs"), name="driven", time="day",
                           target="sales", series_id="store", covariates="signal,noise", lookback=8, horizon=1,
                           season=7, model="dlinear", epochs=10, batch_size=32, lr=0.01, seed=0, baselines=False,
                           mlflow=False, progress=False)
    return run.path


def write_spoken_words(folder: Path) -> Path:
    """Sixteen espeak-ng clips of two digit words each in ``folder/clips`` and their ``manifest.csv``."""
    import subprocess

    (folder / "clips").mkdir(parents=True, exist_ok=True)
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven"]
    lines = ["path,transcript"]
    for i in range(16):
        text = f"{words[i % 8]} {words[(i * 3) % 8]}"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(140 + 5 * i), "-w", str(folder / "clips" / f"{i}.wav"),
                        text], check=True)
        lines.append(f"clips/{i}.wav,{text}")
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "manifest.csv"


@pytest.fixture(name="write_spoken_words", scope="session")
def _write_spoken_words_fixture():
    """The :func:`write_spoken_words` helper, for tests."""
    return write_spoken_words


@pytest.fixture(scope="session")
def speech_run(tmp_path_factory) -> Path:
    """A tiny CTC model trained for two epochs on sixteen espeak-ng clips of two digit words; its
    clips are in ``<run>/../../clips`` (it transcribes badly: it is for smoke tests)."""
    import torchworks

    root = tmp_path_factory.mktemp("speech-run")
    manifest = write_spoken_words(root)
    run = torchworks.train("speech-recognition", data=str(manifest), output=str(root / "runs"),
                           name="speech", hidden=16, layers=1, beam_width=2, epochs=2, batch_size=8, baselines=False,
                           mlflow=False, progress=False)
    return run.path


def load_toy_task():
    """The toy task's module (tests/toy/toy_task.py), executed once per session: executing it registers the
    task and its sample. tests/toy/contract.py loads it the same way, under the same name."""
    import importlib.util
    import sys

    if "toy_task" not in sys.modules:
        spec = importlib.util.spec_from_file_location("toy_task", Path(__file__).parent / "toy" / "toy_task.py")
        sys.modules["toy_task"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["toy_task"])
    return sys.modules["toy_task"]


@pytest.fixture(scope="session")
def toy_task():
    """The toy task's module: its ``ToyPoints`` task (registered), ``make_points`` generator and state."""
    return load_toy_task()


@pytest.fixture(scope="session")
def interactions_log(tmp_path_factory) -> Path:
    """A generated MovieLens-layout log of 120 users and 150 items (6,000 ratings), shared by the session:
    copy before changing."""
    from torchworks.tasks.recommendation.generator import make_interactions

    return make_interactions(tmp_path_factory.mktemp("interactions") / "shop", n_users=120, n_items=150,
                             n_interactions=6000, progress=False)


@pytest.fixture(scope="session")
def recommendation_run(tmp_path_factory, interactions_log) -> Path:
    """A small matrix factorisation trained on ``interactions_log`` (seconds), with its baselines. Shared by
    the session: copy it before changing anything."""
    import torchworks

    root = tmp_path_factory.mktemp("recommendation-run")
    run = torchworks.train("recommendation", data=str(interactions_log), output=str(root / "runs"), name="shop",
                           factors=16, epochs=6, lr=0.02, negatives=64, batch_size=256, mlflow=False, progress=False)
    return run.path


@pytest.fixture(scope="session")
def ticket_sales(tmp_path_factory) -> Path:
    """3,000 generated ticket orders (5% planted anomalies, labelled) in one Parquet file of 1,024-row groups.
    Shared by the session: copy before changing."""
    from torchworks.tasks.anomaly_detection.generator import make_ticket_sales

    return make_ticket_sales(tmp_path_factory.mktemp("sales") / "sales.parquet", rows=3000, anomaly_rate=0.05,
                             seed=3, progress=False)


@pytest.fixture(scope="session")
def anomaly_run(tmp_path_factory, ticket_sales) -> Path:
    """A small autoencoder trained on ``ticket_sales`` (seconds), judged against its labels, without
    baselines. Shared by the session: copy it before changing anything."""
    import torchworks

    root = tmp_path_factory.mktemp("anomaly-run")
    run = torchworks.train("anomaly-detection", data=str(ticket_sales), output=str(root / "runs"), name="sales",
                           label="is_anomaly", drop="anomaly_kind,is_ok", id="order_id", width=32, latent=4,
                           epochs=4, batch_size=128, mlflow=False, progress=False, baselines=False)
    return run.path


def write_houses(path: Path, rows: int = 300, seed: int = 0) -> Path:
    """A CSV of house sales: area, rooms, district, a sale date, an id, and the price they set (with noise)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    area = rng.uniform(30, 200, rows).round(1)
    district = rng.choice(["north", "south", "centre"], rows)
    price = 2_000 * area * np.where(district == "centre", 1.6, 1.0) + rng.normal(0, 20_000, rows)
    pd.DataFrame({"house": [f"H{i:04d}" for i in range(rows)], "area": area, "rooms": rng.integers(1, 7, rows),
                  "district": district, "sold": pd.date_range("2025-01-01", periods=rows, freq="D").strftime("%Y-%m-%d"),
                  "price": price.round(-2)}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def tabular_run(tmp_path_factory) -> Path:
    """A small regression of house prices (``write_houses``), trained in seconds with its baselines. Shared by
    the session: copy it before changing anything."""
    import torchworks

    root = tmp_path_factory.mktemp("tabular-run")
    data = write_houses(root / "houses.csv")
    run = torchworks.train("tabular", data=str(data), output=str(root / "runs"), name="houses", target="price",
                           id="house", width=32, layers=2, epochs=30, batch_size=32, lr=3e-3, mlflow=False,
                           progress=False)
    return run.path
