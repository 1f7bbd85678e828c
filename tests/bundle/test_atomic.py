"""Atomic writes: a kill at any moment leaves the old file or the new one (T1); a full or
read-only disk becomes an OutputError and the old file stays (T6)."""

from __future__ import annotations

import errno
import hashlib
import json
import multiprocessing
import os
import random
import signal
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from torchworks.bundle import atomic
from torchworks.bundle.atomic import (
    TEMP_SUFFIX,
    atomic_write,
    atomic_write_bytes,
    atomic_write_json,
    remove_stale_temp_files,
)
from torchworks.errors import OutputError

PAYLOAD_BYTES = 4 * 1024 * 1024


def test_atomic_write_bytes_writes_and_replaces(tmp_path):
    target = tmp_path / "file.bin"
    assert atomic_write_bytes(target, b"one") == target
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert list(tmp_path.iterdir()) == [target], "no temp file is left behind"


def test_atomic_write_streams_through_the_callback(tmp_path):
    target = tmp_path / "file.bin"
    atomic_write(target, lambda handle: [handle.write(bytes([i]) * 10) for i in range(3)])
    assert target.read_bytes() == b"\x00" * 10 + b"\x01" * 10 + b"\x02" * 10


def test_atomic_write_json_writes_non_finite_floats_as_null(tmp_path):
    target = atomic_write_json(tmp_path / "m.json",
                               {"a": float("nan"), "b": [float("inf"), 1.5], "c": {"d": float("-inf")}, "e": "x"})
    text = target.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": None, "b": [None, 1.5], "c": {"d": None}, "e": "x"}


def test_atomic_write_json_writes_arrays_and_numpy_numbers_as_json_values(tmp_path):
    values = {"confusion": np.array([[1, 2], [3, 4]]), "scores": np.array([0.5, np.nan]), "mae": np.float32(0.25),
              "bad": np.float64("inf")}
    target = atomic_write_json(tmp_path / "m.json", values)
    assert json.loads(target.read_text()) == {"confusion": [[1, 2], [3, 4]], "scores": [0.5, None], "mae": 0.25,
                                              "bad": None}


# --- T1: SIGKILL during a write -------------------------------------------------------------


_BODY = bytes(range(256)) * (PAYLOAD_BYTES // 256)
_BODY_HASH = hashlib.sha256(_BODY)


def _version(seq: int) -> bytes:
    """A self-checking file: a big body, the sequence number, and the sha256 of both."""
    tail = struct.pack("<Q", seq)
    digest = _BODY_HASH.copy()
    digest.update(tail)
    return _BODY + tail + digest.digest()


def _check_version(data: bytes) -> int:
    assert len(data) == PAYLOAD_BYTES + 8 + 32, f"torn file of {len(data)} bytes"
    assert hashlib.sha256(data[:-32]).digest() == data[-32:], "file content is torn"
    return struct.unpack("<Q", data[-40:-32])[0]


def _write_forever(target: str, first: int, started) -> None:
    seq = first
    while True:
        payload = memoryview(_version(seq))
        # small chunks keep the child inside the write (temp file open) most of the time
        atomic_write(target, lambda handle: [handle.write(payload[i:i + 65536]) for i in range(0, len(payload), 65536)])
        started.set()
        seq += 1


def test_sigkill_during_writes_never_leaves_a_torn_file(tmp_path):
    ctx = multiprocessing.get_context("fork")
    target = tmp_path / "model.safetensors"
    rng = random.Random(1234)
    last_seen, kills, temp_files_left = -1, 0, 0
    deadline = time.monotonic() + 8
    while kills < 20 and time.monotonic() < deadline:
        started = ctx.Event()
        child = ctx.Process(target=_write_forever, args=(str(target), last_seen + 1, started), daemon=True)
        child.start()
        if kills % 2 == 0:
            started.wait(5)  # at least one complete version exists
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(child.pid, signal.SIGKILL)
        child.join(5)
        assert child.exitcode == -signal.SIGKILL
        kills += 1
        if target.exists():
            seq = _check_version(target.read_bytes())
            assert seq >= last_seen, "an older version replaced a newer one"
            last_seen = seq
        else:
            assert last_seen == -1, "a complete file disappeared"
        leftovers = list(tmp_path.glob(f"*{TEMP_SUFFIX}"))
        temp_files_left += len(leftovers)
        assert remove_stale_temp_files(tmp_path) == len(leftovers)
        assert not list(tmp_path.glob(f"*{TEMP_SUFFIX}"))
    assert kills >= 10
    assert last_seen >= 0, "the child never finished a single write"
    assert temp_files_left > 0, "no kill landed mid-write, so the test proved nothing"


def test_temp_files_are_hidden_and_end_in_tmp(tmp_path):
    seen = []

    def record(handle):
        seen.append(Path(handle.name))
        handle.write(b"x")

    atomic_write(tmp_path / "bundle.json", record)
    assert seen[0].parent == tmp_path
    assert seen[0].name.startswith(".bundle.json.") and seen[0].name.endswith(TEMP_SUFFIX)


def test_remove_stale_temp_files_clears_nested_temp_files_only(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    keep = [tmp_path / "bundle.json", tmp_path / "checkpoints" / "last.ckpt"]
    stale = [tmp_path / ".bundle.json.123.tmp", tmp_path / "checkpoints" / ".last.ckpt.9.tmp"]
    for path in keep + stale:
        path.write_bytes(b"x")
    assert remove_stale_temp_files(tmp_path) == 2
    assert all(p.exists() for p in keep)
    assert not any(p.exists() for p in stale)
    assert remove_stale_temp_files(tmp_path / "missing") == 0


# --- T6: full or read-only disk ---------------------------------------------------------------


def _raise(code):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


@pytest.mark.parametrize(
    ("code", "got"),
    [(errno.ENOSPC, "the disk is full"), (errno.EACCES, "permission denied"), (errno.EROFS, "read-only")],
)
def test_failed_rename_is_an_output_error_and_keeps_the_old_file(tmp_path, monkeypatch, code, got):
    target = tmp_path / "metrics.json"
    target.write_bytes(b"previous")
    monkeypatch.setattr(atomic.os, "replace", _raise(code))
    with pytest.raises(OutputError) as info:
        atomic_write_bytes(target, b"new")
    assert str(target) in info.value.what
    assert got in info.value.got
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"], "the temp file is removed"


def test_disk_full_while_writing_keeps_the_old_file(tmp_path):
    target = tmp_path / "model.safetensors"
    target.write_bytes(b"previous")

    def write(handle):
        handle.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError, match="disk is full"):
        atomic_write(target, write)
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


def test_unwritable_folder_is_an_output_error(tmp_path, monkeypatch):
    target = tmp_path / "bundle.json"
    target.write_bytes(b"previous")
    real_open = open

    def deny(path, *args, **kwargs):
        if str(path).endswith(TEMP_SUFFIX):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(OutputError) as info:
        atomic_write_bytes(target, b"new")
    assert info.value.got == "permission denied"
    assert "writable" in info.value.hint
    monkeypatch.undo()
    assert target.read_bytes() == b"previous"


def test_missing_folder_is_an_output_error(tmp_path):
    with pytest.raises(OutputError):
        atomic_write_bytes(tmp_path / "no" / "such" / "file.json", b"x")


def test_folder_under_a_regular_file_is_an_output_error(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"I am a file")
    with pytest.raises(OutputError):
        atomic_write_bytes(blocker / "file.json", b"x")
    assert blocker.read_bytes() == b"I am a file"


def test_atomic_link_gives_a_second_name_to_the_same_file(tmp_path):
    from torchworks.bundle.atomic import atomic_link

    source = atomic_write_bytes(tmp_path / "best.ckpt", b"new")
    target = atomic_write_bytes(tmp_path / "last.ckpt", b"old")

    assert atomic_link(source, target)
    assert target.read_bytes() == b"new" and os.path.samefile(source, target)
    atomic_write_bytes(target, b"newer")  # a later atomic write gets a file of its own
    assert source.read_bytes() == b"new" and target.read_bytes() == b"newer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.ckpt", "last.ckpt"]


def test_atomic_link_leaves_the_target_alone_where_links_fail(tmp_path, monkeypatch):
    from torchworks.bundle.atomic import atomic_link

    source = atomic_write_bytes(tmp_path / "a", b"new")
    target = atomic_write_bytes(tmp_path / "b", b"old")

    def cross_device(*args, **kwargs):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    assert not atomic_link(source, target)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
