"""Run folders (T6): writable output checked up front, names never reused, unsafe names refused."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from torchworks.engine import runs
from torchworks.engine.runs import (
    check_output_root,
    default_run_name,
    new_run_dir,
    resumable_run_dir,
)
from torchworks.errors import ConfigError, OutputError


def test_output_root_is_created_and_left_clean(tmp_path):
    root = tmp_path / "a" / "b" / "runs"
    assert check_output_root(root) == root
    assert root.is_dir() and list(root.iterdir()) == []


def test_output_root_under_a_regular_file_is_an_output_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    with pytest.raises(OutputError) as info:
        check_output_root(blocker / "runs")
    assert str(blocker / "runs") in info.value.what
    assert "output=" in info.value.hint
    assert blocker.read_text() == "keep me"


def test_output_root_that_is_a_file_is_an_output_error(tmp_path):
    blocker = tmp_path / "runs"
    blocker.write_text("keep me")
    with pytest.raises(OutputError):
        check_output_root(blocker)
    assert blocker.read_text() == "keep me"


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs sysfs")
def test_output_root_in_sysfs_is_refused_even_for_root():
    with pytest.raises(OutputError):
        check_output_root(Path("/sys/torchworks-test-output"))


@pytest.mark.parametrize(
    ("code", "got"),
    [(errno.EACCES, "permission denied"), (errno.EROFS, "a read-only file system"), (errno.ENOSPC, "a full disk")],
)
def test_write_probe_failures_are_named(tmp_path, monkeypatch, code, got):
    def fail(self, data):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(Path, "write_bytes", fail)
    with pytest.raises(OutputError) as info:
        check_output_root(tmp_path / "runs")
    assert info.value.got == got


def test_new_run_dir_never_reuses_a_folder(tmp_path):
    task_root = tmp_path / "runs" / "image-classification"
    first = new_run_dir(task_root, "digits")
    (first / "bundle.json").write_text("{}")
    second = new_run_dir(task_root, "digits")
    third = new_run_dir(task_root, "digits")
    assert [p.name for p in (first, second, third)] == ["digits", "digits-2", "digits-3"]
    assert (first / "bundle.json").read_text() == "{}", "the first run is untouched"
    assert all(p.is_dir() for p in (first, second, third))


def test_new_run_dir_skips_a_name_taken_by_a_file(tmp_path):
    (tmp_path / "digits").write_text("not a run")
    assert new_run_dir(tmp_path, "digits").name == "digits-2"
    assert (tmp_path / "digits").read_text() == "not a run"


@pytest.mark.parametrize(
    "name", ["../x", "a/b", "a\\b", "/abs", "", ".", "..", ".hidden", "-flag", "x" * 101, "a b", "caf\u00e9", "x\x00"]
)
def test_invalid_run_names_are_config_errors(tmp_path, name):
    with pytest.raises(ConfigError) as info:
        new_run_dir(tmp_path / "task", name)
    assert info.value.got == repr(name)
    assert not (tmp_path / "x").exists()
    assert not (tmp_path / "task").exists() or list((tmp_path / "task").iterdir()) == []


def test_run_name_with_a_trailing_newline_is_refused(tmp_path):
    with pytest.raises(ConfigError):
        new_run_dir(tmp_path, "x\n")


def test_valid_names_are_accepted(tmp_path):
    for name in ("a", "xray-baseline", "run_1.2", "A" * 100):
        assert new_run_dir(tmp_path, name).name == name


def _unfinished(task_root: Path, name: str, mtime: float | None = None) -> Path:
    ckpt = task_root / name / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"ckpt")
    if mtime is not None:
        os.utime(ckpt, (mtime, mtime))
    return task_root / name


def test_resume_by_name_finds_the_run_and_clears_stale_temp_files(tmp_path):
    run = _unfinished(tmp_path, "mine")
    stale = run / "checkpoints" / ".last.ckpt.123.tmp"
    stale.write_bytes(b"half")
    assert resumable_run_dir(tmp_path, "mine") == run
    assert not stale.exists()
    assert (run / "checkpoints" / "last.ckpt").read_bytes() == b"ckpt"


def test_resume_without_name_picks_the_latest_unfinished_run(tmp_path):
    _unfinished(tmp_path, "old", mtime=1_000_000)
    newest = _unfinished(tmp_path, "new", mtime=2_000_000)
    finished = _unfinished(tmp_path, "done", mtime=3_000_000)
    (finished / "bundle.json").write_text("{}")
    assert resumable_run_dir(tmp_path, None) == newest


def test_resume_of_a_missing_run(tmp_path):
    with pytest.raises(ConfigError) as info:
        resumable_run_dir(tmp_path, "ghost")
    assert info.value.got == "no such run"


def test_resume_of_a_run_without_checkpoint(tmp_path):
    (tmp_path / "early").mkdir()
    with pytest.raises(ConfigError) as info:
        resumable_run_dir(tmp_path, "early")
    assert info.value.got == "no such checkpoint"


def test_resume_of_a_finished_run_is_refused(tmp_path):
    run = _unfinished(tmp_path, "done")
    (run / "bundle.json").write_text("{}")
    with pytest.raises(ConfigError, match="already finished"):
        resumable_run_dir(tmp_path, "done")


def test_resume_with_nothing_to_resume(tmp_path):
    with pytest.raises(ConfigError, match="no unfinished run"):
        resumable_run_dir(tmp_path / "missing", None)


def test_resume_name_is_checked_like_a_new_name(tmp_path):
    _unfinished(tmp_path, "victim")
    with pytest.raises(ConfigError, match="invalid run name"):
        resumable_run_dir(tmp_path / "sub", "../victim")


@pytest.mark.parametrize(
    ("data", "model", "expected"),
    [
        ("digits", "smallcnn", "digits-smallcnn"),
        ("/data/chest_xray/", "resnet18", "chest_xray-resnet18"),
        ("labels.csv", None, "labels"),
        ("/", None, "data"),
    ],
)
def test_default_run_names_are_valid_run_names(tmp_path, data, model, expected):
    name = default_run_name(data, model)
    assert name == expected
    assert new_run_dir(tmp_path, name).name == name


def test_default_run_name_is_always_a_valid_name(tmp_path):
    for data in ("my data (v2)", "...", "---", "日本語", "x" * 300, "a/b/../c.csv"):
        runs._check_name(default_run_name(data, "resnet18"))
