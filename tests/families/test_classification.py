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
