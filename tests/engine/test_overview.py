"""The runs overview: run folders found and summarised as they are on disk (finished, incomplete,
corrupt), newest first, scored against their best baseline, and compared on one self-contained page."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from torchworks.engine.overview import OVERVIEW, overview
from torchworks.engine.run_index import best_run, find_runs, table_rows, text_table

IMAGE = "image-classification"


def fake_run(root: Path, task: str, name: str, *, created: str, metrics: dict | None, config: dict | None = None,
             verdict: dict | None = None, finished: bool = True, weights: int = 1000) -> Path:
    """A run folder laid out as `torchworks train` writes it: bundle.json (written last), metrics.json,
    report.html, plots/, model.safetensors, checkpoints/ and config.json (the settings as given)."""
    folder = root / task / name
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "last.ckpt").write_bytes(b"0" * 500)
    settings = {k: v for k, v in {"data": "digits", "model": "smallcnn", **(config or {})}.items() if v is not None}
    (folder / "config.json").write_text(json.dumps({"settings": {k: str(v) for k, v in settings.items()}}))
    if not finished:
        return folder
    metrics = {**(metrics or {}), **({"verdict": verdict} if verdict else {})}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "report.html").write_text("<html></html>")
    (folder / "plots").mkdir()
    (folder / "model.safetensors").write_bytes(b"0" * weights)
    manifest = {"format": "torchworks-bundle", "format_version": 1, "created": created, "task": task, "name": name,
                "config": {"output": str(root), "epochs": 10, "lr": 0.003, "seed": 42, **settings},
                "metrics": metrics, "training": {"accelerator": "cpu", "epochs_run": 10},
                "data": {"fingerprint": "191e03d7af10e6fd",
                         "summary": {"source": "/data/digits", "classes": 10, "train images": 1259}}}
    (folder / "bundle.json").write_text(json.dumps(manifest))
    return folder


def _age(folder: Path, when: float) -> None:
    """Every file and folder of ``folder`` last changed at ``when`` (seconds since 1970)."""
    for path in [*folder.rglob("*"), folder]:
        os.utime(path, (when, when))


@pytest.fixture
def root(tmp_path) -> Path:
    root = tmp_path / "runs"
    base = {"svc_pixels": {"accuracy": 0.98, "macro_f1": 0.97}, "majority": {"accuracy": 0.1}}
    fake_run(root, IMAGE, "old", created="2026-01-01T10:00:00+00:00",
             metrics={"accuracy": 0.76, "macro_f1": 0.75, "test_samples": 269, "baselines": base})
    fake_run(root, IMAGE, "best", created="2026-01-02T10:00:00+00:00", config={"model": "resnet18", "epochs": 30},
             metrics={"accuracy": 0.99, "macro_f1": 0.99, "test_samples": 269, "baselines": base},
             verdict={"beats_baseline": True, "best_baseline": "svc_pixels", "margin": 0.01}, weights=5000)
    fake_run(root, IMAGE, "newest", created="2026-01-03T10:00:00+00:00",
             metrics={"accuracy": 0.5, "test_samples": 269, "baselines": base},
             verdict={"beats_baseline": False, "best_baseline": "svc_pixels", "margin": -0.48})
    _age(fake_run(root, IMAGE, "stopped", created="", metrics=None, finished=False), 1e9)  # 2001: listed late
    broken = fake_run(root, IMAGE, "broken", created="2026-01-01T00:00:00+00:00", metrics={"accuracy": 0.9})
    (broken / "bundle.json").write_text('{"format": "torchworks-bundle", "crea')  # cut off mid-write
    _age(broken, 1e9 - 10)
    fake_run(root, "forecasting", "gru", created="2026-01-04T10:00:00+00:00", config={"data": "sunspots", "model": "gru"},
             metrics={"mase": 1.135, "rmse": 30.2, "baselines": {"seasonal_naive": {"mase": 0.805},
                                                                  "arima": {"mase": 0.9}, "naive": {"mase": 1.3}}})
    fake_run(root, "speech-recognition", "training", created="", metrics=None, finished=False,
             config={"data": "spoken-digits", "model": None})
    (root / "mlflow.db").write_bytes(b"SQLite format 3\x00")
    (root / "mlartifacts" / "1").mkdir(parents=True)  # MLflow's folders are not runs
    (root / IMAGE / "notes").mkdir()  # nor is an empty folder a user left there
    return root


def test_runs_are_found_newest_first_with_status_score_baseline_and_verdict(root):
    runs = find_runs(root)
    training = runs.pop(0)  # started just now, no bundle yet, model= not given: the task's default is shown
    assert (training.name, training.status, training.model) == ("training", "incomplete", "crnn (default)")
    assert [(r.task, r.name, r.status) for r in runs] == [
        ("forecasting", "gru", "finished"), (IMAGE, "newest", "finished"), (IMAGE, "best", "finished"),
        (IMAGE, "old", "finished"), (IMAGE, "stopped", "incomplete"), (IMAGE, "broken", "corrupt")]
    gru, newest, best, old, stopped, broken = runs
    # forecasting's MASE is lower-is-better: the best baseline is the lowest
    assert (gru.metric, gru.value, gru.best_baseline, gru.baseline_value) == ("mase", 1.135, "seasonal_naive", 0.805)
    assert (best.metric, best.value, best.best_baseline, best.baseline_value) == ("accuracy", 0.99, "svc_pixels", 0.98)
    assert best.verdict == {"beats_baseline": True, "best_baseline": "svc_pixels", "margin": 0.01}
    assert old.verdict is None and gru.verdict is None  # written by older versions: no verdict, no error
    assert (best.data, best.model, best.epochs_run, best.fingerprint) == ("digits", "resnet18", 10, "191e03d7af10e6fd")
    assert best.size_bytes > old.size_bytes > 1500
    assert stopped.resumable and "resume=true name=stopped" in stopped.problem and stopped.value is None
    assert (stopped.data, stopped.model) == ("digits", "smallcnn")  # from config.json while it trains
    assert broken.problem == "bundle.json is not valid JSON"
    assert best_run(runs[1:]) is best and best_run([gru]) is gru and best_run([stopped, broken]) is None
    assert [r.name for r in find_runs(root, "forecasting")] == ["gru"]
    assert find_runs(root / "nowhere") == []


def test_folders_that_are_not_what_they_claim_are_corrupt_never_errors(root):
    odd = fake_run(root, IMAGE, "odd", created="2026-02-01T00:00:00+00:00", metrics={"accuracy": 0.5})
    (odd / "metrics.json").write_text("[1, 2]")
    other = fake_run(root, IMAGE, "other", created="2026-02-01T00:00:00+00:00", metrics={"accuracy": 0.5})
    (other / "bundle.json").write_text(json.dumps({"format": "something-else"}))
    binary = fake_run(root, IMAGE, "binary", created="2026-02-01T00:00:00+00:00", metrics={"accuracy": 0.5})
    (binary / "bundle.json").write_bytes(b"\xff\xfe\x00garbage")
    fake_run(root, "a-task-not-installed", "x", created="2026-02-01T00:00:00+00:00", metrics={"score": 1})
    problems = {r.name: (r.status, r.problem) for r in find_runs(root)}
    assert problems["odd"] == ("corrupt", "metrics.json is not a JSON object")
    assert problems["other"] == ("corrupt", "bundle.json is not a torchworks bundle")
    assert problems["binary"][0] == "corrupt" and "bundle.json" in problems["binary"][1]
    assert problems["x"] == ("finished", "")  # listed, without a score: its task is unknown here


def test_console_rows_say_metric_baseline_verdict_status_and_size(root):
    rows = table_rows(find_runs(root, IMAGE))
    assert rows[0] == {"run": "newest", "task": IMAGE, "when": rows[0]["when"], "data": "digits", "model": "smallcnn",
                       "metric": "accuracy=0.5000", "best baseline": "svc_pixels=0.9800",
                       "verdict": "loses to svc_pixels by 0.48", "status": "finished", "size": rows[0]["size"]}
    on_disk = sum(f.stat().st_size for f in (root / IMAGE / "best").rglob("*") if f.is_file())
    assert 6000 < on_disk < 7000 and rows[1]["size"] == f"{on_disk / 1024:.1f} KB"
    assert rows[1]["verdict"] == "beats svc_pixels by 0.01"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", rows[0]["when"])
    assert rows[-1]["status"] == "corrupt" and rows[-1]["metric"] == ""
    lines = text_table(rows).splitlines()
    assert lines[0].split() == ["run", "task", "when", "data", "model", "metric", "best", "baseline", "verdict",
                                "status", "size"]
    assert len(lines) == 6 and lines[1].startswith("newest ")


def test_the_overview_page_compares_the_runs_of_a_task_and_highlights_the_best(root):
    runs, page_path = overview(root, "image_classification")  # the task name as users also write it
    assert page_path == root / IMAGE / OVERVIEW and len(runs) == 5
    page = page_path.read_text()
    assert "http://" not in page and "https://" not in page and "<script" not in page  # self-contained
    best_row = re.search(r"<tr class='best'>(.*?)</tr>", page).group(1)
    assert "<a href='best/report.html'>best</a>" in best_row and "0.9900" in best_row
    assert page.count("<tr class='best'>") == 2  # in the runs table and in the metrics table
    assert "Best: best (accuracy 0.9900, higher is better)" in page
    assert "beats svc_pixels by 0.01" in page and "loses to svc_pixels by 0.48" in page
    assert "data:image/png;base64," in page  # the chart of accuracy by run, embedded
    assert "<th>svc_pixels</th><th>majority</th>" in page  # every baseline's accuracy per run
    # settings that differ between the runs get a column; those alike do not
    settings = page[page.index("data and settings"):]
    assert "<th>epochs</th>" in settings and "<th>lr</th>" not in settings and "<th>train images</th>" in settings
    assert "no bundle yet: training stopped or still running; resume=true name=stopped" in page
    assert "bundle.json is not valid JSON" in page
    assert "gru" not in page  # another task's run


def test_the_overview_of_every_task_has_a_section_per_task(root):
    runs, page_path = overview(root)
    assert page_path == root / OVERVIEW and len(runs) == 7
    page = page_path.read_text()
    assert "forecasting: runs, newest first" in page and f"{IMAGE}: runs, newest first" in page
    assert "Best: gru (mase 1.135, lower is better)" in page


def test_no_runs_write_no_page(tmp_path):
    assert overview(tmp_path / "runs") == ([], None)
    assert not (tmp_path / "runs").exists()


def test_cli_runs_prints_the_table_and_where_the_page_is(root, cli):
    code, out, err = cli("runs", IMAGE, f"output={root}")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["run", "task", "when"] and lines[1].startswith("newest")
    assert lines[-2] == "5 runs: 3 finished, 1 incomplete, 1 corrupt"
    assert lines[-1] == f"overview: {root / IMAGE / OVERVIEW}"
    code, out, err = cli("runs", f"output={root}")
    assert code == 0 and out.strip().splitlines()[-1] == f"overview: {root / OVERVIEW}"
    code, out, _ = cli("runs", f"output={root / 'empty'}")
    assert code == 0 and out.startswith("no runs under")


def test_cli_runs_refuses_unknown_tasks_and_settings_and_has_help(root, cli):
    code, _, err = cli("runs", "image-clasification", f"output={root}")
    assert code == 2 and "did you mean 'image-classification'?" in err
    code, _, err = cli("runs", "outptu=x")
    assert code == 2 and "did you mean 'output'?" in err
    code, _, err = cli("runs", IMAGE, "forecasting")
    assert code == 2 and "at most one TASK" in err
    code, out, _ = cli("runs", "--help")
    assert code == 0 and "output=runs" in out and "overview.html" in out


def test_nested_metrics_stay_out_of_the_table_and_batch_one_latency_gets_a_column(tmp_path):
    root = tmp_path / "runs"
    fake_run(root, "object-detection", "boxes", created="2026-01-05T10:00:00+00:00",
             metrics={"map": 0.61, "map_50": 0.9, "map_small": None, "baselines": {},
                      "per_class": {"car": {"ap": 0.6, "ap_50": 0.9, "recall": 0.7, "boxes": 12}},
                      "speed": {"test_samples": 30, "test_seconds": 0.9, "batch1_ms": 7.25, "device": "cpu"}})
    runs, page_path = overview(root, "object-detection")
    page = page_path.read_text()
    metrics = page[page.index("test metrics"):page.index("data and settings")]
    assert "<th>map</th><th>map_50</th><th>batch 1 ms</th>" in metrics and "7.25 ms" in metrics
    assert "per_class" not in metrics and "map_small" not in metrics
