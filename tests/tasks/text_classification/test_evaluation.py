"""Test-set metrics for single- and multi-label outputs, checked against hand-computed values."""

from __future__ import annotations

import pytest
import torch

from torchworks.families.classification import ClassificationEvaluator
from torchworks.tasks.text_classification.evaluation import evaluate_multi_label, mistaken_texts

SINGLE = {"labels": ["a", "b", "c"], "multi_label": False, "threshold": 0.5}
MULTI = {"labels": ["x", "y"], "multi_label": True, "threshold": 0.5}


def test_single_label_metrics_figures_and_mistakes():
    logits = torch.tensor([[5.0, 0, 0], [0, 5.0, 0], [0, 0, 5.0], [5.0, 0, 0]])
    targets = torch.tensor([0, 1, 2, 1])
    evaluator = ClassificationEvaluator(SINGLE["labels"], show_mistakes=mistaken_texts(["t1", "t2", "t3",
                                                                                         "sure but wrong"]))
    evaluator.update(logits[:3], targets[:3])  # two batches: the mistake's index counts across them
    evaluator.update(logits[3:], targets[3:])
    result = evaluator.compute()
    assert result.metrics["accuracy"] == pytest.approx(0.75)
    assert result.metrics["per_class"]["b"]["recall"] == pytest.approx(0.5)
    assert result.metrics["per_class"]["a"]["precision"] == pytest.approx(0.5)
    assert result.metrics["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3, abs=1e-4)
    assert {"confusion_matrix", "f1_by_class", "confidence"} <= set(result.figures)
    mistakes = result.tables["Misclassified test texts (most confident first)"]
    assert mistakes == [{"text": "sure but wrong", "actual": "b", "predicted": "a", "probability": pytest.approx(0.987, abs=1e-3)}]


def test_multi_label_subset_accuracy_and_per_label_f1():
    logits = torch.tensor([[3.0, 3.0], [3.0, -3.0], [-3.0, 3.0], [3.0, 3.0]])
    targets = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    metrics = evaluate_multi_label(logits, targets, MULTI, ["a", "b", "c", "d"]).metrics
    assert metrics["subset_accuracy"] == metrics["accuracy"] == pytest.approx(0.75)
    assert metrics["per_class"]["x"]["f1"] == pytest.approx(1.0)
    assert metrics["per_class"]["y"]["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["hamming_loss"] == pytest.approx(1 / 8)
