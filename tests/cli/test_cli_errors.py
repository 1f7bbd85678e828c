"""CLI user errors: exit 2, one ``error:`` line last on stderr, no traceback, stdout clean.

Every case runs in-process through ``torchworks.cli.main.main`` (the console script's entry point);
two of them also run through the real executable, started together because each imports torch.
None of them gets as far as training.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from torchworks.cli.main import main

EXE = Path(sys.executable).parent / "torchworks"
COMMON = ["mlflow=false", "progress=false", "model=smallcnn", "image_size=16", "crop=1.0", "baselines=false"]
CONFIG_ERRORS = ("unknown_key", "negative_epochs", "bad_float", "bare_word")
DATA_ERRORS = ("missing", "empty", "corrupt", "csv_without_label")
NEEDLES = {
    "missing": ["does-not-exist", "does not exist"],
    "empty": ["empty", "no class folders"],
    "corrupt": ["broken.png", "bad_files=skip"],
    "csv_without_label": ["nolabel.csv", "label"],
    "unknown_key": ["'epoch'", "did you mean 'epochs'?"],
    "negative_epochs": ["'epochs'", "'-1'"],
    "bad_float": ["'lr'", "'abc'"],
    "bare_word": ["'epochs'", "key=value"],
}


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    output: Path

    @property
    def error(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1, self.stderr
        return lines[0]


def _arguments(root: Path, case: str, write_image, make_shapes_dataset) -> list[str]:
    """Build the data for ``case`` under ``root``; return the train arguments."""
    empty = root / "empty"
    empty.mkdir(parents=True, exist_ok=True)
    if case == "corrupt":
        corrupt = make_shapes_dataset(root / "corrupt", classes=("circle", "square"), per_class=4)
        (corrupt / "square" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)
        args = [f"data={corrupt}", "bad_files=fail"]
    elif case == "csv_without_label":
        write_image(root / "img" / "a.png", np.zeros((8, 8), dtype=np.uint8))
        (root / "nolabel.csv").write_text("path,class\nimg/a.png,cat\n")
        args = [f"data={root / 'nolabel.csv'}"]
    else:
        args = {
            "missing": [f"data={root / 'does-not-exist'}"],
            "empty": [f"data={empty}"],
            "unknown_key": [f"data={empty}", "epoch=3"],
            "negative_epochs": [f"data={empty}", "epochs=-1"],
            "bad_float": [f"data={empty}", "lr=abc"],
            "bare_word": [f"data={empty}", "epochs"],
        }[case]
    return ["train", "image-classification", *args, *COMMON, f"output={root / 'runs'}"]


def _check(outcome: Outcome, case: str) -> None:
    assert outcome.returncode == 2, outcome.stderr
    assert "Traceback" not in outcome.stderr + outcome.stdout
    assert outcome.stderr.strip().splitlines()[-1] == outcome.error, "the error is the last thing printed"
    assert outcome.stdout == "", "stdout stays clean for results"
    for needle in NEEDLES[case]:
        assert needle in outcome.error
    if case in CONFIG_ERRORS:
        assert outcome.stderr.strip().splitlines() == [outcome.error], "a config error prints only the error"
    task_root = outcome.output / "image-classification"
    assert not task_root.exists() or list(task_root.iterdir()) == [], "a failed check leaves no run folder"


@pytest.mark.parametrize("case", DATA_ERRORS + CONFIG_ERRORS)
def test_user_error_through_main(tmp_path, monkeypatch, capsys, write_image, make_shapes_dataset, case):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["torchworks", *_arguments(tmp_path, case, write_image, make_shapes_dataset)])
    with pytest.raises(SystemExit) as info:
        main()
    captured = capsys.readouterr()
    _check(Outcome(info.value.code, captured.out, captured.err, tmp_path / "runs"), case)


# --- the real executable ----------------------------------------------------------------------

SUBPROCESS_CASES = ("missing", "unknown_key")


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["TORCHWORKS_HOME"] = str(root / "home")
    return env


@pytest.fixture(scope="module")
def executable_runs(tmp_path_factory, write_image, make_shapes_dataset) -> dict[str, Outcome]:
    if not EXE.exists():
        pytest.skip(f"console script not installed at {EXE}")
    procs = {}
    for case in SUBPROCESS_CASES:
        root = tmp_path_factory.mktemp(f"cli-{case}")
        command = [str(EXE), *_arguments(root, case, write_image, make_shapes_dataset)]
        procs[case] = (subprocess.Popen(command, cwd=root, env=_env(root), stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True), root / "runs")
    outcomes = {}
    for case, (proc, output) in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        outcomes[case] = Outcome(proc.returncode, stdout, stderr, output)
    return outcomes


@pytest.mark.parametrize("case", SUBPROCESS_CASES)
def test_user_error_through_the_executable(executable_runs, case):
    _check(executable_runs[case], case)


def test_help_exits_0(tmp_path):
    result = subprocess.run([str(EXE), "--help"], cwd=tmp_path, env=_env(tmp_path), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0
    assert "train" in result.stdout and "Traceback" not in result.stderr


@pytest.mark.parametrize("argv", [["trian"], ["train"], []], ids=["unknown-command", "missing-task", "no-args"])
def test_usage_errors_exit_2_without_traceback(tmp_path, argv):
    result = subprocess.run([str(EXE), *argv], cwd=tmp_path, env=_env(tmp_path), capture_output=True,
                            text=True, timeout=120)
    assert "Traceback" not in result.stderr
    assert result.returncode == 2
