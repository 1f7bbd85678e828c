"""Atomic file writes: write a temp file beside the target, fsync, rename.

A crash at any moment leaves either the old file or the new one, never a torn one. Temp files
carry the ``.tmp`` suffix so that :func:`remove_stale_temp_files` can clear them on the next start.
"""

from __future__ import annotations

import errno
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from torchworks.errors import OutputError

TEMP_SUFFIX = ".tmp"


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Write ``path`` through ``write(fileobj)`` atomically.

    Raises:
        OutputError: The folder is read-only or the disk is full; the old file is untouched.
    """
    target = Path(path)
    temp = target.with_name(f".{target.name}.{os.getpid()}{TEMP_SUFFIX}")
    try:
        with open(temp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
        _fsync_dir(target.parent)
    except OSError as exc:
        try:
            temp.unlink(missing_ok=True)
        except OSError:  # the folder itself is unusable; nothing was written there
            pass
        raise _output_error(target, exc) from None
    return target


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda handle: handle.write(data))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as pretty JSON atomically (NaN is written as null so any reader can parse it)."""
    text = json.dumps(_finite(obj), indent=2, sort_keys=False, default=str)
    return atomic_write_bytes(path, (text + "\n").encode("utf-8"))


def atomic_link(source: str | Path, target: str | Path) -> bool:
    """Make ``target`` a hard link to ``source`` (a second name for the same bytes, no second copy).

    The link is made beside ``target`` and renamed over it, so ``target`` is at every moment either
    its old file or ``source``'s. Returns False, leaving ``target`` as it was, where the file system
    has no hard links or the two are on different devices: the caller then writes a copy.
    """
    target = Path(target)
    temp = target.with_name(f".{target.name}.{os.getpid()}{TEMP_SUFFIX}")
    try:
        temp.unlink(missing_ok=True)
        os.link(source, temp)
        os.replace(temp, target)
    except OSError:
        try:
            temp.unlink(missing_ok=True)
        except OSError:
            pass
        return False
    _fsync_dir(target.parent)
    return True


def remove_stale_temp_files(folder: str | Path) -> int:
    """Delete temp files left by a crashed write under ``folder``; returns how many."""
    count = 0
    root = Path(folder)
    if not root.is_dir():
        return 0
    for temp in root.rglob(f"*{TEMP_SUFFIX}"):
        if temp.is_file():
            temp.unlink(missing_ok=True)
            count += 1
    return count


def _finite(obj: Any) -> Any:
    if hasattr(obj, "tolist") and callable(obj.tolist):  # numpy arrays and scalars, tensors: plain values
        obj = obj.tolist()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _output_error(target: Path, exc: OSError) -> OutputError:
    reasons = {
        errno.ENOSPC: ("the disk is full", "free some space or choose another output="),
        errno.EACCES: ("permission denied", "choose a writable output= folder"),
        errno.EROFS: ("the file system is read-only", "choose a writable output= folder"),
    }
    got, hint = reasons.get(exc.errno, (exc.strerror or str(exc), "check the output folder"))
    return OutputError(
        f"could not write '{target}'", expected="a writable folder with free space", got=got, hint=hint
    )
