"""Every run ends with its verdict against the best baseline, on the console (the line before the
one naming the result), in metrics.json and as the report's headline; both ways, through the CLI."""

from __future__ import annotations

import json
import shutil


def _last_line(text: str) -> str:
    return [line for line in text.splitlines() if line.strip()][-1]


def _joined(text: str) -> str:
    """Console output with rich's line wrapping undone (it wraps at the terminal's width)."""
    return " ".join(text.split())


def test_a_model_that_beats_its_baseline_says_so_last_and_in_green_on_the_report(cli, toy_task, tmp_path):
    data = toy_task.make_points(tmp_path / "points.csv", n=300, seed=1)
    code, out, err = cli("train", "toy-points", f"data={data}", f"output={tmp_path / 'runs'}", "name=wins",
                         "epochs=30", "batch_size=16", "lr=0.03", "seed=0", "mlflow=false", "progress=false")
    assert code == 0, err
    run = tmp_path / "runs" / "toy-points" / "wins"
    assert _last_line(out) == f"bundle: {run}"
    verdict = json.loads((run / "metrics.json").read_text())["verdict"]
    assert verdict["beats_baseline"] is True and verdict["best_baseline"] == "majority" and verdict["margin"] > 0.2
    assert "verdict: beats the best baseline (majority, accuracy" in _joined(err)
    assert _joined(err).endswith(f"by +{verdict['margin']:.4f} accuracy")  # the last line of the run's messages
    page = (run / "report.html").read_text()
    assert "class='headline good'" in page and "beats the best baseline (majority" in page
    assert json.loads((run / "bundle.json").read_text())["metrics"]["verdict"] == verdict


def test_a_model_that_loses_to_its_baseline_says_what_to_try_and_still_exits_0(cli, photo_crops, tmp_path):
    # the reported case: a resnet18 from scratch on a few dozen real photo crops predicts one class
    code, out, err = cli("train", "image-classification", f"data={photo_crops}", f"output={tmp_path / 'runs'}",
                         "name=loses", "model=resnet18", "image_size=32", "crop=1.0", "epochs=1", "batch_size=16",
                         "mlflow=false", "progress=false")
    assert code == 0, err
    run = tmp_path / "runs" / "image-classification" / "loses"
    assert _last_line(out) == f"bundle: {run}"
    metrics = json.loads((run / "metrics.json").read_text())
    verdict = metrics["verdict"]
    assert verdict["beats_baseline"] is False and verdict["best_baseline"] == "svc_pixels"
    assert verdict["baseline"] > metrics["accuracy"] and verdict["margin"] < 0
    console = _joined(err)
    assert console.endswith("Try: a smaller model (model=smallcnn), pretrained weights (pretrained=true), "
                            "more epochs (epochs=30)")
    assert (f"verdict: the baseline is better here: svc_pixels accuracy {verdict['baseline']:.4f} vs model "
            f"{metrics['accuracy']:.4f}") in console
    page = (run / "report.html").read_text()
    assert "class='headline warn'" in page and "Try: a smaller model (model=smallcnn)" in page
    assert page.index("headline warn") < page.index("Model against baselines"), "the verdict heads the report"


def test_evaluate_ends_with_the_verdict_too(cli, image_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(image_run, run)
    code, out, err = cli("evaluate", str(run))
    assert code == 0, err
    assert _last_line(out) == f"report: {run / 'report.html'}"
    verdict = json.loads((run / "metrics.json").read_text())["verdict"]
    assert f"verdict: {verdict['text']}" in _joined(err) and _joined(err).endswith(_joined(verdict["text"]))
    assert "class='headline" in (run / "report.html").read_text()


def test_a_run_without_baselines_says_there_is_none(cli, toy_task, tmp_path):
    data = toy_task.make_points(tmp_path / "points.csv", n=60, seed=1)
    code, _, err = cli("train", "toy-points", f"data={data}", f"output={tmp_path / 'runs'}", "epochs=1",
                       "baselines=false", "mlflow=false", "progress=false")
    assert code == 0, err
    assert _joined(err).endswith("verdict: no baseline to compare with (baselines=false)")
