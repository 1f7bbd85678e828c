"""Experiment tracking with MLflow: a local SQLite store under the output root unless
``MLFLOW_TRACKING_URI`` points elsewhere; ``mlflow=false`` turns it off."""

from __future__ import annotations

import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from torchworks.bundle.atomic import atomic_link

TRACKING_FILE = "tracking.json"
LINKED = frozenset({".safetensors"})  # bundle files linked into a local artifact store instead of copied


def tracking_uri(output_root: Path) -> str:
    """``$MLFLOW_TRACKING_URI`` or ``sqlite:///<output>/mlflow.db``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{output_root.resolve() / 'mlflow.db'}"


def make_logger(task_name: str, run_dir: Path, output_root: Path, params: dict[str, Any]):
    """A Lightning ``MLFlowLogger`` for this run (continuing its MLflow run on resume)."""
    import mlflow  # noqa: F401  (configures its loggers on import; quiet them afterwards)
    from lightning.pytorch.loggers import MLFlowLogger

    for noisy in ("alembic", "mlflow", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("lightning.pytorch.loggers.mlflow").setLevel(logging.ERROR)

    previous = _read_run_id(run_dir)
    logger = MLFlowLogger(
        experiment_name=task_name,
        run_name=run_dir.name,
        tracking_uri=tracking_uri(output_root),
        artifact_location=(output_root.resolve() / "mlartifacts").as_uri(),
        run_id=previous,
        tags={"torchworks.run_dir": str(run_dir.resolve())},
    )
    if previous is None:
        logger.log_hyperparams({k: str(v) for k, v in params.items()})
        (run_dir / TRACKING_FILE).write_text(json.dumps({"mlflow_run_id": logger.run_id}))
    return logger


def log_results(logger, metrics: dict[str, Any], run_dir: Path) -> None:
    """Log final test metrics and the bundle's files (not its checkpoints) as artifacts.

    With a local artifact store (the default), the weights are hard-linked into it rather than
    copied: MLflow lists, shows and downloads them as usual, they survive the run folder being
    deleted, and they take no second copy's disk space. A remote store gets an upload.
    """
    client, run_id = logger.experiment, logger.run_id
    for key, value in _flat_numbers(metrics).items():
        client.log_metric(run_id, key if key.startswith("test_") else f"test_{key}", value)
    store = _local_folder(client.get_run(run_id).info.artifact_uri)
    task_files = _task_files(run_dir)  # written whole like the weights, and as large: linked too
    for item in sorted(run_dir.iterdir()):
        if item.name == "checkpoints" or item.name.startswith("."):
            continue
        linkable = item.suffix in LINKED or item.name in task_files
        if item.is_dir():
            client.log_artifacts(run_id, str(item), artifact_path=item.name)
        elif not (linkable and store is not None and _link_into(item, store)):
            client.log_artifact(run_id, str(item))
    client.set_terminated(run_id, "FINISHED")


def _task_files(run_dir: Path) -> set[str]:
    """The names of the task's own files the bundle lists (an item index), and of its state's files."""
    import json

    try:
        manifest = json.loads((run_dir / "bundle.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    state_files = [entry.get("file") for entry in (manifest.get("state_files") or {}).values() if isinstance(entry, dict)]
    return set(manifest.get("files") or {}) | {name for name in state_files if isinstance(name, str)}


def _local_folder(uri: str) -> Path | None:
    """The folder of a ``file:`` artifact URI (or a plain path); None for a remote store."""
    parsed = urlparse(uri)
    if parsed.scheme == "" and uri:
        return Path(uri)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        return Path(unquote(parsed.path))
    return None


def _link_into(file: Path, folder: Path) -> bool:
    """Hard-link ``file`` into the artifact ``folder``; False where the file system cannot.

    Only weights and the task's bundle files are linked: torchworks replaces them whole and never edits them
    in place, so the artifact keeps the bytes it was logged with (and their hash in the logged bundle.json).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return atomic_link(file, folder / file.name)


def _read_run_id(run_dir: Path) -> str | None:
    try:
        return json.loads((run_dir / TRACKING_FILE).read_text())["mlflow_run_id"]
    except (OSError, ValueError, KeyError):
        return None


def _flat_numbers(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Every finite number of ``metrics``, nested dicts flattened with dots (``per_class.car.ap``),
    under a name MLflow accepts (:func:`_metric_name`); None, text and booleans are left out."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{_metric_name(str(key))}"
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) and math.isfinite(value):
            flat[name] = float(value)
        elif isinstance(value, dict):
            flat.update(_flat_numbers(value, prefix=f"{name}."))
    return {name[:MAX_NAME]: value for name, value in flat.items()}


MAX_NAME = 240  # MLflow refuses metric names over 250 characters; "test_" goes in front
_NOT_IN_NAMES = re.compile(r"[^\w.\- ]")


def _metric_name(key: str) -> str:
    """``key`` with what MLflow refuses in a metric name (anything but letters, digits, ``_ - .`` and
    spaces; a slash makes a path) made an underscore: a class called ``a/b`` or ``c++`` still logs."""
    return _NOT_IN_NAMES.sub("_", key).strip() or "_"
