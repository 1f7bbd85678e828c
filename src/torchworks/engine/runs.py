"""Run folders: ``<output>/<task>/<name>``. A run never overwrites another; resume finds its own."""

from __future__ import annotations

import errno
import os
import re
from datetime import datetime
from pathlib import Path

from torchworks.bundle.atomic import remove_stale_temp_files
from torchworks.bundle.io import MANIFEST
from torchworks.errors import ConfigError, OutputError

CHECKPOINTS = "checkpoints"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_output_root(root: Path) -> Path:
    """Create ``root`` if needed and prove it is writable before any work starts."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-test-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        reason = {errno.EACCES: "permission denied", errno.EROFS: "a read-only file system",
                  errno.ENOSPC: "a full disk"}.get(exc.errno, exc.strerror or str(exc))
        raise OutputError(
            f"cannot write runs to '{root}'",
            expected="a writable output folder",
            got=reason,
            hint="pass output=SOME/WRITABLE/FOLDER",
        ) from None
    return root


def new_run_dir(task_root: Path, name: str) -> Path:
    """Create a fresh run folder called ``name``, or ``name-2``, ``name-3``... if taken."""
    _check_name(name)
    task_root.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 10_000):
        candidate = task_root / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            candidate.mkdir()  # atomic: two runs racing never share a folder
        except FileExistsError:
            continue
        return candidate
    raise OutputError(f"no free run name for '{name}' in '{task_root}'", hint="choose another name=")


def resumable_run_dir(task_root: Path, name: str | None) -> Path:
    """The run to resume: the one called ``name``, or the latest unfinished run of this task."""
    if name is not None:
        _check_name(name)
        folder = task_root / name
        if not (folder / CHECKPOINTS / "last.ckpt").is_file():
            raise ConfigError(
                f"cannot resume run '{folder}'",
                expected="a run folder with checkpoints/last.ckpt",
                got="no such checkpoint" if folder.is_dir() else "no such run",
                hint="check name= (the run folder's name) or drop resume=true to start afresh",
            )
        if (folder / MANIFEST).is_file():
            raise ConfigError(
                f"run '{folder}' already finished",
                expected="an unfinished run",
                got="a complete bundle",
                hint="start a new run without resume=true",
            )
    else:
        candidates = [
            p for p in task_root.glob("*") if (p / CHECKPOINTS / "last.ckpt").is_file() and not (p / MANIFEST).exists()
        ] if task_root.is_dir() else []
        if not candidates:
            raise ConfigError(
                "there is no unfinished run to resume",
                expected=f"a run under '{task_root}' with checkpoints and no bundle yet",
                got="none",
                hint="drop resume=true to start a new run",
            )
        folder = max(candidates, key=lambda p: (p / CHECKPOINTS / "last.ckpt").stat().st_mtime)
    remove_stale_temp_files(folder)
    return folder


def default_run_name(data: str, model: str | None) -> str:
    """A readable default such as ``digits-smallcnn`` or ``chest_xray-resnet18`` (just the data's name
    while the model is ``auto``: the data decides it later)."""
    stem = Path(data.rstrip("/\\")).stem or "data"
    parts = [stem] + ([model] if model and model != "auto" else [])
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(parts)).strip("-.") or "run"
    return name[:80]


def timestamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"invalid run name '{name}'",
            expected="letters, digits, '.', '_' or '-' (no slashes), up to 100 characters",
            got=repr(name),
            hint="pick a simple name such as name=xray-baseline",
        )
