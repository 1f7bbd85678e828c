"""The tabular test evaluation: a binary model decides at its threshold (accuracy, F1, precision, recall and the
confusion matrix follow it; AUROC, average precision, log loss and calibration do not), the metrics agree with
scikit-learn's, regression is measured in the target's units, and the report shows the columns and the
permutation importance."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn import metrics as sk

from torchworks.config.loading import resolve_config
from torchworks.report.plots import plt
from torchworks.tasks.tabular.config import TabularConfig
from torchworks.tasks.tabular.data import prepare_tabular_data
from torchworks.tasks.tabular.evaluation import (
    SCATTER_POINTS,
    classification_scores,
    regression_scores,
    tabular_evaluator,
    threshold_in_force,
)

SCORES = {"accuracy", "macro_f1", "auroc", "average_precision", "log_loss", "score"}
BINARY_SCORES = SCORES | {"threshold", "precision", "recall"}


@pytest.fixture(autouse=True)
def _closed_figures():
    yield
    plt.close("all")


def _binary_state(threshold: float, labels=("no", "yes"), positive="yes") -> dict:
    return {"task_type": "classification", "labels": list(labels), "positive": positive, "threshold": str(threshold),
            "decision_threshold": threshold, "threshold_choice": {"setting": str(threshold)}}


def _evaluate(state: dict, outputs: torch.Tensor, targets: torch.Tensor, batch: int = 4, **facts):
    evaluator = tabular_evaluator(SimpleNamespace(state=state, **facts), None)
    for start in range(0, len(targets), batch):
        evaluator.update(outputs[start:start + batch], targets[start:start + batch])
    return evaluator.compute()


def _logits(probabilities: np.ndarray) -> torch.Tensor:
    return torch.tensor(np.log(np.clip(probabilities, 1e-12, 1)), dtype=torch.float32)


# the positive class's probability and the actual class of ten rows: at 0.5 six rows are said positive, at 0.9 two
P_YES = np.array([0.95, 0.92, 0.85, 0.7, 0.6, 0.55, 0.4, 0.3, 0.2, 0.05])
ACTUAL = np.array([1, 1, 1, 0, 1, 0, 1, 0, 0, 0])


def _sklearn_binary(threshold: float) -> dict:
    said = (P_YES >= threshold).astype(int)
    return {"accuracy": sk.accuracy_score(ACTUAL, said), "macro_f1": sk.f1_score(ACTUAL, said, average="macro"),
            "precision": sk.precision_score(ACTUAL, said, zero_division=0), "recall": sk.recall_score(ACTUAL, said),
            "auroc": sk.roc_auc_score(ACTUAL, P_YES), "average_precision": sk.average_precision_score(ACTUAL, P_YES),
            "log_loss": sk.log_loss(ACTUAL, np.c_[1 - P_YES, P_YES])}


def test_perfect_logits_score_perfectly_in_both_kinds_of_classification():
    targets = torch.tensor([0, 1, 2, 1, 0, 2, 2, 1])
    multi = _evaluate({"task_type": "classification", "labels": ["a", "b", "c"]}, 30.0 * torch.eye(3)[targets],
                      targets)
    binary = _evaluate(_binary_state(0.5), 30.0 * torch.eye(2)[targets % 2], targets % 2)
    for evaluation, keys in ((multi, SCORES), (binary, BINARY_SCORES)):
        metrics = evaluation.metrics
        assert keys <= set(metrics)
        assert metrics["accuracy"] == metrics["macro_f1"] == metrics["score"] == 1.0
        assert metrics["auroc"] == metrics["average_precision"] == 1.0
        assert metrics["log_loss"] == pytest.approx(0.0, abs=1e-6)
        assert {"confusion_matrix", "calibration", "precision_recall"} <= set(evaluation.figures)
    assert "threshold" not in multi.metrics and "confidence" in multi.figures
    assert {"roc_curve", "positive_probability"} <= set(binary.figures) and "confidence" not in binary.figures
    assert binary.metrics["precision"] == binary.metrics["recall"] == 1.0


def test_a_binary_model_decides_at_its_threshold_and_ranks_by_its_probabilities():
    at = {t: _evaluate(_binary_state(t), _logits(np.c_[1 - P_YES, P_YES]), torch.tensor(ACTUAL)) for t in (0.5, 0.9)}
    for threshold, evaluation in at.items():
        metrics, expected = evaluation.metrics, _sklearn_binary(threshold)
        for name, value in expected.items():
            assert metrics[name] == pytest.approx(value, abs=1e-5), (threshold, name)
        assert metrics["threshold"] == threshold and metrics["score"] == metrics["accuracy"]
        assert metrics["per_class"]["yes"]["recall"] == pytest.approx(expected["recall"], abs=1e-4)
        # the confusion matrix counts the decisions: its left panel holds the counts, rows actual
        counts = evaluation.figures["confusion_matrix"].axes[0].images[0].get_array()
        assert np.array_equal(np.asarray(counts), sk.confusion_matrix(ACTUAL, (P_YES >= threshold).astype(int)))
    low, high = at[0.5].metrics, at[0.9].metrics
    assert low["accuracy"] == high["accuracy"] == 0.7  # wrong: 0.7, 0.55, 0.4 at 0.5; 0.85, 0.6, 0.4 at 0.9
    assert low["recall"] == 0.8 and high["recall"] == 0.4 and high["precision"] == 1.0
    for name in ("auroc", "average_precision", "log_loss", "ece"):
        assert low[name] == high[name], name


def test_the_positive_class_may_be_the_first_output():
    state = _binary_state(0.9, labels=("benign", "malignant"), positive="benign")
    scores = classification_scores(np.c_[P_YES, 1 - P_YES], 1 - ACTUAL, state)
    assert scores["precision"] == 1.0 and scores["recall"] == 0.4 and scores["accuracy"] == 0.7
    assert scores["auroc"] == pytest.approx(sk.roc_auc_score(ACTUAL, P_YES))


def test_the_threshold_in_force_is_the_one_predictions_use():
    chosen = {**_binary_state(0.83), "threshold": "auto", "threshold_choice": {"setting": "auto"}}
    assert threshold_in_force(chosen) == 0.83
    assert threshold_in_force({**_binary_state(0.5), "threshold": "0.3", "threshold_choice": {}}) == 0.3
    unresolved = {**_binary_state(0.5), "threshold": "auto", "threshold_choice": {}}  # no validation rows
    assert threshold_in_force(unresolved) == 0.5
    scores = classification_scores(np.c_[1 - P_YES, P_YES], ACTUAL, chosen)
    assert scores["threshold"] == 0.83 and scores["recall"] == 0.6


def test_multiclass_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 4, 300)
    logits = torch.tensor(rng.normal(size=(300, 4)) + 1.5 * np.eye(4)[targets], dtype=torch.float32)
    metrics = _evaluate({"task_type": "classification", "labels": list("abcd")}, logits, torch.tensor(targets),
                        batch=64).metrics
    probabilities = logits.softmax(dim=1).double().numpy()
    probabilities /= probabilities.sum(axis=1, keepdims=True)  # float32 sums drift from 1, which sklearn warns of
    said = probabilities.argmax(axis=1)
    assert metrics["accuracy"] == pytest.approx(sk.accuracy_score(targets, said))
    assert metrics["macro_f1"] == pytest.approx(sk.f1_score(targets, said, average="macro"), abs=1e-6)
    assert metrics["log_loss"] == pytest.approx(sk.log_loss(targets, probabilities), abs=1e-6)
    assert metrics["auroc"] == pytest.approx(sk.roc_auc_score(targets, probabilities, multi_class="ovr"), abs=1e-5)
    one_vs_rest = [sk.average_precision_score(targets == c, probabilities[:, c]) for c in range(4)]
    assert metrics["average_precision"] == pytest.approx(np.mean(one_vs_rest), abs=1e-5)
    assert metrics["test_samples"] == 300


def test_a_sure_mistake_costs_what_scikit_learn_charges():
    probabilities = np.array([[1.0, 0.0], [0.5, 0.5]])
    scores = classification_scores(probabilities, np.array([1, 1]), _binary_state(0.5))
    assert scores["log_loss"] == pytest.approx((-np.log(1e-15) - np.log(0.5)) / 2)


def test_regression_is_measured_in_the_targets_units():
    rng = np.random.default_rng(1)
    state = {"task_type": "regression", "labels": [], "target": "price", "target_center": 100.0, "target_scale": 10.0}
    actual = rng.normal(100, 10, 500)
    predicted = actual + rng.normal(0, 4, 500)
    standardised = [torch.tensor((v - 100) / 10, dtype=torch.float32) for v in (predicted, actual)]
    evaluation = _evaluate(state, standardised[0][:, None], standardised[1], batch=128)
    metrics = evaluation.metrics
    assert set(metrics) == {"rmse", "mae", "r2", "score", "test_samples"} and metrics["test_samples"] == 500
    assert metrics["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(actual, predicted)), rel=1e-5)
    assert metrics["mae"] == pytest.approx(sk.mean_absolute_error(actual, predicted), rel=1e-5)
    assert metrics["r2"] == metrics["score"] == pytest.approx(sk.r2_score(actual, predicted), rel=1e-5)
    assert set(evaluation.figures) == {"predicted_vs_actual", "residuals_vs_predicted", "residual_histogram"}
    points = evaluation.figures["predicted_vs_actual"].axes[0].collections[0].get_offsets()
    assert np.allclose(np.sort(points[:, 0]), np.sort(actual), atol=1e-3)  # drawn in the target's units


def test_a_constant_target_scores_as_scikit_learn_does():
    state = {"target_center": 5.0, "target_scale": 2.0}
    actual, guess = np.zeros(4), np.array([0.0, 0.5, 0.0, 0.0])
    assert regression_scores(guess, actual, state)["r2"] == sk.r2_score(actual * 2 + 5, guess * 2 + 5) == 0.0
    assert regression_scores(actual, actual, state)["r2"] == 1.0


def test_scatter_plots_show_a_sample_of_a_large_test_split():
    state = {"task_type": "regression", "labels": [], "target_center": 0.0, "target_scale": 1.0}
    values = torch.linspace(-2, 2, SCATTER_POINTS + 5000)
    evaluation = _evaluate(state, values[:, None], values, batch=10_000)
    for name in ("predicted_vs_actual", "residuals_vs_predicted"):
        assert len(evaluation.figures[name].axes[0].collections[0].get_offsets()) == SCATTER_POINTS
    assert evaluation.metrics["test_samples"] == SCATTER_POINTS + 5000 and evaluation.metrics["r2"] == 1.0


def test_the_report_shows_the_columns_and_the_permutation_importance():
    importance = [{"column": f"c{i}", "importance": i / 100} for i in range(25)]
    columns = [{"column": "c0", "kind": "numeric"}]
    state = {"task_type": "regression", "labels": [], "target_center": 0.0, "target_scale": 1.0}
    targets = torch.tensor([0.5, 1.0, -1.0, 0.0])
    evaluation = _evaluate({**state, "importance": importance}, targets[:, None], targets, column_rows=columns)
    assert evaluation.tables["Columns"] == columns
    ranked = evaluation.tables["Permutation importance (validation)"]
    assert [row["column"] for row in ranked[:3]] == ["c24", "c23", "c22"] and len(ranked) == 25
    bars = evaluation.figures["permutation_importance"].axes[0].patches
    assert len(bars) == 20 and bars[0].get_width() == pytest.approx(0.24)
    bare = _evaluate(state, targets[:, None], targets)  # nothing measured, no columns listed
    assert "permutation_importance" not in bare.figures and "Columns" not in bare.tables


def test_prepared_breast_cancer_rows_are_evaluated_with_their_columns(tmp_path):
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    frame.to_csv(tmp_path / "cancer.csv", index=False)
    config = resolve_config(TabularConfig, {"data": str(tmp_path / "cancer.csv"), "target": "target"})
    data = prepare_tabular_data(config)
    targets = torch.as_tensor(data.targets["test"])
    evaluator = tabular_evaluator(data, config)
    evaluator.update(10.0 * torch.eye(2)[targets], targets)
    evaluation = evaluator.compute()
    assert evaluation.metrics["accuracy"] == 1.0 and evaluation.metrics["threshold"] == 0.5
    assert evaluation.tables["Columns"] == data.column_rows and len(data.column_rows) == 30
    assert pd.Series(data.targets["test"]).nunique() == 2
