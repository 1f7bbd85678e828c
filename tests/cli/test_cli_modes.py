"""The happy path through the CLI, in-process: quickstart, then evaluate and predict on its bundle.

Human-readable output (config, bars, the summary table) goes to stderr; stdout carries results only.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

TASK = "image-classification"



def test_tasks_and_data_list_name_the_task_its_modes_and_the_sample(cli):
    code, out, _ = cli("tasks")
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith(TASK))
    for mode in ("train", "evaluate", "predict"):
        assert mode in line

    code, out, _ = cli("data", "list")
    assert code == 0 and "digits" in out


@pytest.mark.slow
def test_quickstart_then_evaluate_then_predict(tmp_path, monkeypatch, shapes_dir, cli):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(
        "quickstart", TASK, "epochs=1", "mlflow=false", "progress=false", f"output={tmp_path}/runs"
    )
    assert code == 0, err
    assert "torchworks quickstart" in err and TASK in err and "svc_pixels" in err, "the table is on stderr"
    table = err[err.index("torchworks quickstart"):err.index("verdict (")]
    assert "…" not in table and re.search(r"svc_pixels \d\.\d{4}", table), "off a terminal, nothing is cut"
    last = out.strip().splitlines()[-1]
    assert last.startswith("bundle: ")
    run = Path(last.removeprefix("bundle: "))
    assert (run / "bundle.json").is_file() and (run / "report.html").is_file()

    (run / "metrics.json").unlink()
    code, out, err = cli("evaluate", str(run))
    assert code == 0, err
    assert {"accuracy", "macro_f1", "auroc", "per_class", "baselines"} <= set(json.loads((run / "metrics.json").read_text()))

    one = next(shapes_dir.rglob("*.png"))
    preds = tmp_path / "preds.csv"
    code, out, err = cli("predict", str(run), str(one), str(shapes_dir), "--output", str(preds))
    assert code == 0, err
    with preds.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 + len(list(shapes_dir.rglob("*.png")))
    assert {"input", "label", "probability"} <= set(rows[0])
    assert all(row["label"] in {str(d) for d in range(10)} for row in rows)

    code, _, err = cli("predict", str(run), str(one), "--output", str(preds))
    assert code == 2 and "preds.csv" in err, "an existing output file is not overwritten"
