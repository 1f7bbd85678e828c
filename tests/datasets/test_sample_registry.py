"""The shared sample registry imports no task, and every task's samples module is cheap to import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import torchworks

TASKS = Path(torchworks.__file__).parent / "tasks"
HEAVY = ("torch", "numpy", "pandas", "sklearn", "statsmodels", "lightning")

# Each samples module is loaded from its file without running its task package's __init__ (which
# imports the task itself): what is measured is the cost of the registry and the samples alone.
PROBE = """
import importlib.util, json, sys
import torchworks.datasets as datasets
for name, path in json.loads(sys.argv[1]).items():
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
print(json.dumps({"samples": {s.name: s.task for s in datasets.list_samples()},
                  "loaded": sorted(m for m in sys.modules if m.split(".")[0] in %r),
                  "tasks": sorted(m for m in sys.modules if m.startswith("torchworks.tasks"))}))
""" % (HEAVY,)


def _samples_modules() -> dict[str, str]:
    return {f"torchworks.tasks.{path.parent.name}.samples": str(path) for path in sorted(TASKS.glob("*/samples.py"))}


def test_every_task_package_has_a_samples_module() -> None:
    # a task package is one that defines its task (task.py); a package still being built has none yet
    packages = {path.parent.name for path in TASKS.glob("*/task.py")}
    assert {"image_classification", "forecasting", "text_classification", "speech_recognition"} <= packages
    assert {name.split(".")[2] for name in _samples_modules()} == packages


def test_the_registry_and_the_samples_modules_import_no_heavy_library() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(_samples_modules())], capture_output=True,
                            text=True, timeout=120, check=True)
    found = json.loads(result.stdout)
    assert found["loaded"] == [], "imported at registration: " + ", ".join(found["loaded"])
    assert found["tasks"] == sorted(_samples_modules()), "the samples imported a task module"
    assert found["samples"] == {"digits": "image-classification", "sunspots": "forecasting", "co2": "forecasting",
                                "prices": "forecasting", "tickets": "text-classification",
                                "spoken-digits": "speech-recognition", "detection-scenes": "object-detection",
                                "segmentation-scenes": "segmentation", "lesions": "segmentation",
                                "movies": "recommendation", "breast-cancer": "tabular", "diabetes": "tabular",
                                "ticket-sales": "anomaly-detection"}


def test_the_registry_alone_imports_no_task() -> None:
    code = "import sys, torchworks.datasets as d; print(d.list_samples(), [m for m in sys.modules if 'tasks' in m])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[] []"


def test_a_typo_of_a_sample_name_of_the_task_gets_a_did_you_mean(tmp_path, monkeypatch):
    from torchworks.engine.catalog import check_data_name
    from torchworks.errors import ConfigError

    with pytest.raises(ConfigError, match="did you mean 'tickets'") as caught:
        check_data_name("tikets", "text-classification")
    assert "neither a sample dataset nor an existing path" in str(caught.value)
    check_data_name("tickets", "text-classification")  # a sample
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tikets").mkdir()
    check_data_name("tikets", "text-classification")  # an existing path wins over a near sample name
    check_data_name("digits", "forecasting")  # another task's sample is left to the task-mismatch error
    check_data_name("sales.csv", "forecasting")  # far from every name: the task says the path is missing
