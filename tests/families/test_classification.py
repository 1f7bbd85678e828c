"""The classification family: weighted loss, records, and the streaming evaluator's numbers."""

from __future__ import annotations

import math

import pytest
import torch

from torchworks.families.classification import (
    SHOWN_MISTAKES,
    ClassificationEvaluator,
    class_records,
    class_weighted_loss,
    validation_metrics,
)


def test_class_weights_scale_each_class_loss():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    targets = torch.tensor([1, 1])  # both rows say class 1; the first is wrong
    plain = class_weighted_loss(logits, targets, {})
    weighted = class_weighted_loss(logits, targets, {"class_weights": [1.0, 3.0]})
    assert float(plain) == pytest.approx((math.log(1 + math.e ** 2) + math.log(1 + math.e ** -2)) / 2, abs=1e-5)
    assert float(weighted) == pytest.approx(float(plain), abs=1e-5)  # one class only: weights cancel in the mean
    multi = class_weighted_loss(torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]), {"multi_label": True})
    assert float(multi) == pytest.approx(math.log(2), abs=1e-6)


def test_records_carry_the_top_k_classes_best_first():
    (record,) = class_records(torch.tensor([[0.0, 2.0, 1.0]]), ["x.png"], ["a", "b", "c"], k=2)
    assert record["input"] == "x.png" and record["label"] == "b"
    assert [entry["label"] for entry in record["top_k"]] == ["b", "c"]
    assert record["probability"] == pytest.approx(math.e ** 2 / (1 + math.e + math.e ** 2), abs=1e-5)


def test_validation_metrics_are_accuracy_and_macro_f1():
    metrics = validation_metrics({"labels": ["a", "b"]})
    metrics.update(torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([0, 1]))
    values = metrics.compute()
    assert float(values["accuracy"]) == 0.5 and float(values["macro_f1"]) == pytest.approx(1 / 3, abs=1e-4)


def test_evaluator_keeps_only_the_most_confident_mistakes_with_their_split_positions():
    labels = ["no", "yes"]
    shown = []

    def show(mistakes):
        shown.extend(mistakes)
        return {}, {"mistakes": [{"index": m.index} for m in mistakes]}

    evaluator = ClassificationEvaluator(labels, positive="yes", show_mistakes=show)
    total = 0
    for batch in range(5):  # 5 batches of 10: every sample is wrong, confidence grows with its position
        scores = torch.linspace(0.1, 1.0, 10) + batch
        logits = torch.stack([scores, torch.zeros(10)], dim=1)  # always says "no"
        evaluator.update(logits, torch.ones(10, dtype=torch.long))
        total += 10
    result = evaluator.compute()
    assert len(shown) == SHOWN_MISTAKES
    assert [m.index for m in shown] == list(range(total - 1, total - 1 - SHOWN_MISTAKES, -1))
    assert all(m.actual == "yes" and m.predicted == "no" for m in shown)
    assert result.metrics["accuracy"] == 0.0 and result.metrics["test_samples"] == 50
    assert "roc_curve" not in result.figures  # one class in the targets: no ROC to draw


def test_binary_evaluation_draws_a_roc_curve_and_matches_the_confusion_counts():
    evaluator = ClassificationEvaluator(["cat", "dog"])
    evaluator.update(torch.tensor([[2.0, 0.0], [0.0, 2.0], [0.0, 1.0]]), torch.tensor([0, 1, 0]))
    result = evaluator.compute()
    assert {"confusion_matrix", "f1_by_class", "confidence", "roc_curve"} <= set(result.figures)
    assert result.metrics["accuracy"] == pytest.approx(2 / 3)
    assert result.metrics["per_class"]["cat"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert result.metrics["auroc"] == pytest.approx(1.0)


def test_evaluator_draws_precision_recall_and_calibration_with_average_precision_and_ece():
    labels = ["a", "b", "c"]
    probabilities = torch.tensor([[0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1],
                                  [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    targets = torch.tensor([0, 1, 1, 0, 2, 0])
    evaluator = ClassificationEvaluator(labels)
    evaluator.update(probabilities.log(), targets)  # logits whose softmax is these probabilities
    result = evaluator.compute()
    assert {"precision_recall", "calibration", "confusion_matrix"} <= set(result.figures)
    # one-vs-rest AP by hand. a: 0.9 (a), 0.6, 0.5 (a), 0.3 (a) -> (1 + 2/3 + 3/4) / 3. b: 0.7 (b), 0.4, then
    # 0.3 (b) tied with 0.3 (not b): precision 1 at recall 1/2, 2/4 at recall 1 -> 0.75. c: 0.8 (c) first -> 1
    assert result.metrics["average_precision"] == pytest.approx(((1 + 2 / 3 + 3 / 4) / 3 + 0.75 + 1) / 3, abs=1e-5)
    legend = [t.get_text() for t in result.figures["precision_recall"].axes[0].get_legend().get_texts()]
    assert legend[0].startswith("c (AP 1.000)") and len(legend) == 3
    # ECE by hand over 15 equal-width bins: |mean confidence - accuracy| per bin, weighted by its share
    confidence, predicted = probabilities.max(dim=1)
    right = (predicted == targets).float()
    bins = (confidence * 15).floor().clamp(max=14)
    ece = sum(abs(float(confidence[bins == b].mean() - right[bins == b].mean())) * int((bins == b).sum()) / 6
              for b in bins.unique())
    assert result.metrics["ece"] == pytest.approx(ece, abs=1e-5)
    panels = result.figures["confusion_matrix"].axes
    assert [ax.get_title() for ax in panels] == ["Counts (test)", "Normalised by row: recall on the diagonal"]
    # predicted: a a | a b | c c for actual a a a | b b | c: rows a = 2 0 1, b = 1 1 0, c = 0 0 1
    assert [t.get_text() for t in panels[0].texts] == ["2", "0", "1", "1", "1", "0", "0", "0", "1"]
    assert [t.get_text() for t in panels[1].texts] == [".67", "0", ".33", ".50", ".50", "0", "0", "0", "1.00"]


def test_evaluator_samples_right_and_wrong_answers_in_test_order_within_bounds():
    from torchworks.families.classification import SHOWN_SAMPLES

    shown = []

    def show(samples):
        shown.extend(samples)
        return {"sample_predictions": None}, {}

    evaluator = ClassificationEvaluator(["no", "yes"], show_samples=show)
    for batch in range(10):  # 10 batches of 20: the model says "no" always, a quarter of the answers are "yes"
        targets = (torch.arange(20) % 4 == 0).long()
        evaluator.update(torch.tensor([[1.0, 0.0]]).repeat(20, 1), targets)
    result = evaluator.compute()
    assert "sample_predictions" in result.figures
    assert len(shown) == SHOWN_SAMPLES and sum(not s.correct for s in shown) == SHOWN_SAMPLES // 2
    assert [s.index for s in shown] == sorted(s.index for s in shown) and len({s.index for s in shown}) == len(shown)
    assert all((s.index % 4 == 0) == (not s.correct) for s in shown), "the positions point at the right answers"
    assert {s.index // 20 for s in shown} != {0}, "drawn over the whole split, not the first batch"
    assert len(evaluator._right.items) <= SHOWN_SAMPLES and len(evaluator._wrong.items) <= SHOWN_SAMPLES
