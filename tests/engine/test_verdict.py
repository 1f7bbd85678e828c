"""The verdict of a run against its best baseline: the comparison, its words, and what is stored."""

from __future__ import annotations

import json

import pytest

from torchworks.engine.verdict import judge, verdict_line

ADVICE = ["a smaller model (model=smallcnn)", "pretrained weights (pretrained=true)", "more epochs (epochs=30)"]


def test_a_model_better_than_every_baseline_beats_the_best_one_by_the_margin():
    verdict = judge({"accuracy": 0.9926}, {"svc_pixels": {"accuracy": 0.9167}, "majority": {"accuracy": 0.1}},
                    metric="accuracy", higher_is_better=True, advice=ADVICE)
    assert verdict.outcome == "beats" and verdict.beats_baseline is True
    assert verdict.best_baseline == "svc_pixels" and verdict.margin == pytest.approx(0.0759)
    assert verdict.advice == (), "no advice for a model that wins"
    assert verdict.line() == "verdict: beats the best baseline (svc_pixels, accuracy 0.9167) by +0.0759 accuracy"
    assert verdict.headline() == {"tone": "good", "text": verdict.line().removeprefix("verdict: ")}


def test_a_better_baseline_is_named_with_what_to_try():
    verdict = judge({"accuracy": 0.5}, {"svc_pixels": {"accuracy": 0.9167}}, metric="accuracy",
                    higher_is_better=True, advice=ADVICE)
    assert verdict.outcome == "behind" and verdict.beats_baseline is False
    assert verdict.margin == pytest.approx(-0.4167)
    assert verdict.line() == ("verdict: the baseline is better here: svc_pixels accuracy 0.9167 vs model 0.5000. "
                              "Try: a smaller model (model=smallcnn), pretrained weights (pretrained=true), "
                              "more epochs (epochs=30)")
    assert verdict.headline()["tone"] == "warn"


def test_lower_is_better_metrics_pick_the_lowest_baseline_and_count_the_margin_the_right_way():
    baselines = {"naive": {"mase": 2.0}, "seasonal_naive": {"mase": 0.805}, "arima": {"mase": 0.793},
                 "ets": {"mase": 0.75}}
    losing = judge({"mase": 1.135}, baselines, metric="mase", higher_is_better=False,
                   advice=["the linear model (model=dlinear)"])
    assert losing.outcome == "behind" and losing.best_baseline == "ets"
    assert losing.margin == pytest.approx(0.75 - 1.135)
    assert "(lower is better)" in losing.text() and "Try: the linear model (model=dlinear)" in losing.text()
    winning = judge({"mase": 0.639}, baselines, metric="mase", higher_is_better=False)
    assert winning.outcome == "beats" and winning.margin == pytest.approx(0.111)
    assert winning.line() == "verdict: beats the best baseline (ets, mase 0.7500) by +0.1110 mase (lower is better)"


def test_equal_scores_are_level_and_not_a_win():
    verdict = judge({"accuracy": 1.0}, {"svc_pixels": {"accuracy": 1.0}}, metric="accuracy", higher_is_better=True,
                    advice=ADVICE)
    assert verdict.outcome == "level" and verdict.beats_baseline is False and verdict.advice == ()
    assert verdict.text() == "level with the best baseline (svc_pixels, accuracy 1.0000)"
    assert verdict.headline()["tone"] == "info"


@pytest.mark.parametrize(("baselines", "enabled", "reason"), [
    ({}, False, "baselines=false"),
    ({}, True, "this task has no baseline"),
    ({"broken": {"accuracy": float("nan")}, "other": {"loss": 0.3}}, True, "no baseline produced accuracy"),
])
def test_without_a_usable_baseline_the_verdict_says_so(baselines, enabled, reason):
    verdict = judge({"accuracy": 0.9}, baselines, metric="accuracy", higher_is_better=True, advice=ADVICE,
                    baselines_enabled=enabled)
    assert verdict.outcome == "no_baseline" and verdict.beats_baseline is None
    # where the model has its value (only baselines=false leaves the comparison out before reading it), it is said
    said = "" if not enabled else ": accuracy 0.9000 on the test split"
    assert verdict.line() == f"verdict: no baseline to compare with ({reason}){said}"


def test_a_baseline_without_a_finite_value_is_skipped_not_crowned():
    verdict = judge({"accuracy": 0.8}, {"nan": {"accuracy": float("nan")}, "svc": {"accuracy": 0.7},
                                        "flag": {"accuracy": True}}, metric="accuracy", higher_is_better=True)
    assert verdict.best_baseline == "svc" and verdict.outcome == "beats"


def test_the_stored_verdict_is_json_and_gives_back_the_console_line():
    verdict = judge({"accuracy": 0.5}, {"svc_pixels": {"accuracy": 0.9167}}, metric="accuracy",
                    higher_is_better=True, advice=ADVICE)
    stored = json.loads(json.dumps(verdict.as_dict()))
    assert stored["beats_baseline"] is False and stored["best_baseline"] == "svc_pixels"
    assert stored["margin"] == pytest.approx(-0.4167) and stored["advice"] == ADVICE
    assert verdict_line({"verdict": stored}) == (verdict.line(), "warn")
    assert verdict_line({"accuracy": 0.5}) is None, "a bundle written before verdicts has none"
