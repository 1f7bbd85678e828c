"""Fast answers: listing, help and a mistyped setting never import torch (or the other heavy libraries).

Each case runs ``torchworks.cli.main.main()`` in a fresh interpreter and, at exit, prints which heavy
modules were imported. Refusing ``epoch=3`` must not cost the seconds that importing torch takes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

HEAVY = ("torch", "lightning", "pandas", "sklearn", "mlflow")
PROBE = """
import atexit, sys
heavy = {heavy!r}
atexit.register(lambda: print("IMPORTED=" + ",".join(m for m in heavy if m in sys.modules), file=sys.stderr))
sys.argv = ["torchworks", *{argv!r}]
from torchworks.cli.main import main
main()
"""
CASES = {
    "mistyped-setting": (["train", "image-classification", "data=digits", "epoch=3"], 2, "did you mean 'epochs'?"),
    "tasks": (["tasks"], 0, "image-classification"),
    "data-list": (["data", "list"], 0, "digits"),
    "train-help": (["train", "image-classification", "--help"], 0, "epochs=10"),
}


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["TORCHWORKS_HOME"] = str(root / "home")
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    return env


@pytest.mark.parametrize("case", list(CASES))
def test_no_heavy_import_on_the_way_to_a_quick_answer(case, tmp_path):
    argv, code, needle = CASES[case]
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY, argv=argv)], cwd=tmp_path,
                            env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - started
    assert result.returncode == code, result.stderr
    assert needle in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    imported = next(line for line in result.stderr.splitlines() if line.startswith("IMPORTED="))
    assert "torch" not in imported.removeprefix("IMPORTED=").split(","), \
        f"{' '.join(argv)} imported {imported} and took {seconds:.1f} s"
