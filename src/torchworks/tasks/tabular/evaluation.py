"""Test metrics, figures and tables of a tabular model, built batch by batch.

Classification keeps the shared :class:`ClassificationEvaluator`'s figures. A binary classifier decides with
its decision threshold on the positive class's probability, as its predictions do, not by the most probable
class: accuracy, F1, precision, recall and the confusion matrix come from those decisions, while AUROC,
average precision, log loss and calibration come from the probabilities. Regression metrics and figures
are in the target's units. Both show the table's columns and, once measured, each column's permutation
importance. :func:`classification_scores` and :func:`regression_scores` also score the baselines, so the
model and its baselines are measured alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from matplotlib.figure import Figure
from torchmetrics.functional.classification import binary_average_precision, multiclass_f1_score

from torchworks.errors import ConfigError
from torchworks.evaluation import Evaluation, Evaluator
from torchworks.families.classification import ClassificationEvaluator
from torchworks.metrics.classification import classification_metrics
from torchworks.report.plots import close, plt
from torchworks.tasks.tabular.thresholds import decision_threshold

if TYPE_CHECKING:
    from torchworks.tasks.tabular.data import TabularData

LOG_LOSS_CLIP = 1e-15  # as scikit-learn clipped probabilities: a sure mistake costs 34.5 nats, not infinity
SCATTER_POINTS = 20_000  # more points draw the same cloud, only slower
DECISION_FIGURES = ("confusion_matrix", "f1_by_class")  # drawn from the decisions
PROBABILITY_FIGURES = ("calibration", "precision_recall", "roc_curve")  # drawn from the probabilities


def tabular_evaluator(data: TabularData, config: Any) -> Evaluator:
    """The streaming test evaluator of a tabular model: ``update(outputs, targets)`` per batch (logits
    ``[n, classes]``, or standardised values ``[n, 1]`` for regression), ``compute()`` at the end."""
    state = data.state
    inner = RegressionEvaluator(state) if state["task_type"] == "regression" else TabularClassificationEvaluator(state)
    return _WithTableFacts(inner, data)


def threshold_in_force(state: dict[str, Any]) -> float:
    """The threshold a binary model's predictions use: the one chosen on the validation rows, or the one
    the setting names (:func:`~torchworks.tasks.tabular.thresholds.decision_threshold`); the stored one when
    the setting needs a validation curve the state lacks (no validation rows)."""
    try:
        return decision_threshold(state)
    except ConfigError:
        return float(state.get("decision_threshold") or 0.5)


def positive_index(state: dict[str, Any]) -> int:
    """The output column of the positive class of a binary model."""
    labels = state["labels"]
    return labels.index(state["positive"]) if state.get("positive") in labels else 1


def decisions(probabilities: torch.Tensor, state: dict[str, Any], threshold: float | None = None) -> torch.Tensor:
    """The class said for each row: for two classes, the positive one where its probability reaches
    ``threshold`` (the threshold in force when None), else the most probable class."""
    if len(state["labels"]) != 2:
        return probabilities.argmax(dim=1)
    positive = positive_index(state)
    threshold = threshold_in_force(state) if threshold is None else threshold
    return torch.where(probabilities[:, positive] >= threshold, positive, 1 - positive)


def classification_scores(probabilities: torch.Tensor | np.ndarray, targets: torch.Tensor | np.ndarray,
                          state: dict[str, Any], threshold: float | None = None) -> dict[str, Any]:
    """Accuracy, macro F1 (of the decisions), AUROC, average precision, log loss (of the probabilities) and
    ``score`` (accuracy); for two classes also the ``threshold`` and the positive class's ``precision`` and
    ``recall``.

    Args:
        probabilities: Class probabilities ``[n, classes]``, columns in the order of ``state["labels"]``.
        targets: Class indices ``[n]``.
        state: The task state: ``labels``, and ``positive`` and the threshold setting for two classes.
        threshold: Binary: decide at this probability of the positive class instead of the one in force.
    """
    probabilities = torch.as_tensor(probabilities, dtype=torch.float32)
    targets = torch.as_tensor(targets, dtype=torch.int64)
    labels = state["labels"]
    binary = len(labels) == 2
    if binary and threshold is None:
        threshold = threshold_in_force(state)
    decided = decisions(probabilities, state, threshold)
    accuracy = float((decided == targets).double().mean())
    scores: dict[str, Any] = {
        "accuracy": accuracy,
        "macro_f1": float(multiclass_f1_score(decided, targets, len(labels), average="macro")),
        "auroc": _at_most_one(classification_metrics(probabilities, targets, labels)["auroc"]),
        "average_precision": _at_most_one(_average_precision(probabilities, targets, state)),
        "log_loss": _log_loss(probabilities, targets),
        "score": accuracy,
    }
    if binary:
        scores.update(threshold=float(threshold), **_positive_precision_recall(decided, targets, positive_index(state)))
    return scores


def _at_most_one(value: float | None) -> float | None:
    """torchmetrics sums areas in float32: a perfect ranking can come out a hair above 1."""
    return None if value is None else min(float(value), 1.0)


def _average_precision(probabilities: torch.Tensor, targets: torch.Tensor, state: dict[str, Any]) -> float | None:
    """Of the positive class for two classes, else the mean one-vs-rest over the classes in the test rows
    (as :class:`ClassificationEvaluator` reports it); None where a single class leaves nothing to rank."""
    present = torch.unique(targets).tolist()
    if len(present) < 2:
        return None
    classes = [positive_index(state)] if len(state["labels"]) == 2 else present
    values = [float(binary_average_precision(probabilities[:, c], (targets == c).long())) for c in classes]
    return sum(values) / len(values)


def _log_loss(probabilities: torch.Tensor, targets: torch.Tensor) -> float:
    """The mean negative log-likelihood of the actual classes (natural log)."""
    actual = probabilities.double().gather(1, targets[:, None])[:, 0]
    return float(-actual.clamp(LOG_LOSS_CLIP, 1.0).log().mean())


def _positive_precision_recall(decided: torch.Tensor, targets: torch.Tensor, positive: int) -> dict[str, float]:
    """Precision and recall of the positive class; 0 where nothing was said or was positive (as scikit-learn)."""
    said, actual = decided == positive, targets == positive
    hits = int((said & actual).sum())
    return {"precision": hits / int(said.sum()) if said.any() else 0.0,
            "recall": hits / int(actual.sum()) if actual.any() else 0.0}


class TabularClassificationEvaluator(Evaluator):
    """Test metrics and figures of a classifier under the task's decision rule.

    A :class:`ClassificationEvaluator` sees the probabilities (calibration, precision-recall and ROC
    curves, expected calibration error). For two classes a second one sees the decisions at the threshold
    in force, as one-hot logits whose most probable class is the decision (confusion matrix, F1 by class,
    per-class table); and a histogram of the positive class's probability by actual class, with the
    threshold, replaces the confidence histogram, whose right and wrong would be those of the most probable
    class. The metrics are :func:`classification_scores` plus the shared evaluator's others.
    """

    def __init__(self, state: dict[str, Any]):
        self.state = state
        labels, positive = state["labels"], state.get("positive")
        self.threshold = threshold_in_force(state) if len(labels) == 2 else None
        self._by_probability = ClassificationEvaluator(labels, positive)
        binary = self.threshold is not None
        self._by_decision = ClassificationEvaluator(labels, positive) if binary else self._by_probability
        self._probabilities: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        probabilities, targets = outputs.float().softmax(dim=1), targets.long()
        self._by_probability.update(outputs, targets)
        if self._by_decision is not self._by_probability:
            decided = decisions(probabilities, self.state, self.threshold)
            self._by_decision.update(torch.nn.functional.one_hot(decided, 2).float(), targets)
        self._probabilities.append(probabilities)
        self._targets.append(targets)

    def compute(self) -> Evaluation:
        probabilities, targets = torch.cat(self._probabilities), torch.cat(self._targets)
        scores = classification_scores(probabilities, targets, self.state, self.threshold)
        by_decision = self._by_decision.compute()
        if self._by_decision is self._by_probability:
            return Evaluation({**by_decision.metrics, **scores}, by_decision.figures, by_decision.tables)
        by_probability = self._by_probability.compute()
        figures = {**_kept(by_decision.figures, DECISION_FIGURES), **_kept(by_probability.figures, PROBABILITY_FIGURES)}
        positive = positive_index(self.state)
        figures["positive_probability"] = positive_probability_figure(
            probabilities[:, positive].numpy(), (targets == positive).numpy(), self.threshold,
            self.state["labels"][positive], self.state["labels"][1 - positive])
        metrics = {**by_decision.metrics, "ece": by_probability.metrics["ece"], **scores}
        return Evaluation(metrics, figures, by_decision.tables)


def _kept(figures: dict[str, Figure], names: tuple[str, ...]) -> dict[str, Figure]:
    """The named figures; the others are closed (pyplot keeps every open figure alive)."""
    for name, figure in figures.items():
        if name not in names:
            close(figure)
    return {name: figures[name] for name in names if name in figures}


def positive_probability_figure(probability: np.ndarray, actual: np.ndarray, threshold: float, positive: str,
                                negative: str) -> Figure:
    """Histograms of the positive class's probability on the rows of each actual class, and the threshold
    between them: what moving it would trade."""
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    bins = np.linspace(0, 1, 41)
    ax.hist(probability[~actual], bins=bins, alpha=0.7, label=f"actual {negative} ({int((~actual).sum()):,})",
            color="#4c72b0")
    ax.hist(probability[actual], bins=bins, alpha=0.7, label=f"actual {positive} ({int(actual.sum()):,})",
            color="#c44e52")
    ax.axvline(threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {threshold:.3g}")
    if min(actual.sum(), (~actual).sum()) * 20 < len(actual):
        ax.set_yscale("log")  # a rare class (fraud, disease) would be a flat line next to the common one
    ax.set(title=f"Probability of {positive} on the test rows", xlabel=f"P({positive})", ylabel="rows")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def in_target_units(values: np.ndarray | torch.Tensor, state: dict[str, Any]) -> np.ndarray:
    """Standardised regression values (what the model and the targets hold) in the target's units."""
    return np.asarray(values, dtype=np.float64) * state["target_scale"] + state["target_center"]


def regression_scores(predictions: np.ndarray | torch.Tensor, targets: np.ndarray | torch.Tensor,
                      state: dict[str, Any]) -> dict[str, Any]:
    """RMSE, MAE and R² in the target's units, and ``score`` (R²), of standardised predictions and targets
    (un-standardised with ``state["target_center"]`` and ``state["target_scale"]``)."""
    predicted, actual = in_target_units(predictions, state), in_target_units(targets, state)
    errors = actual - predicted
    r2 = _r2(actual, errors)
    return {"rmse": float(np.sqrt(np.mean(errors ** 2))), "mae": float(np.mean(np.abs(errors))), "r2": r2,
            "score": r2}


def _r2(actual: np.ndarray, errors: np.ndarray) -> float:
    """1 - residual / total sum of squares; for a constant target 1 when every prediction is right, else 0
    (scikit-learn's ``force_finite``: a metric that stays a JSON number)."""
    residual, total = float(np.sum(errors ** 2)), float(np.sum((actual - actual.mean()) ** 2))
    if total == 0:
        return 1.0 if residual == 0 else 0.0
    return 1.0 - residual / total


class RegressionEvaluator(Evaluator):
    """Test metrics and figures of a regression model; keeps one predicted and one actual number per row."""

    def __init__(self, state: dict[str, Any]):
        self.state = state
        self._predictions: list[np.ndarray] = []
        self._targets: list[np.ndarray] = []

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        self._predictions.append(outputs.reshape(len(targets), -1)[:, 0].float().numpy())
        self._targets.append(targets.float().numpy())

    def compute(self) -> Evaluation:
        predictions, targets = np.concatenate(self._predictions), np.concatenate(self._targets)
        metrics = {**regression_scores(predictions, targets, self.state), "test_samples": int(len(targets))}
        figures = regression_figures(in_target_units(predictions, self.state), in_target_units(targets, self.state),
                                     self.state.get("target", "target"))
        return Evaluation(metrics, figures)


def regression_figures(predicted: np.ndarray, actual: np.ndarray, target: str) -> dict[str, Figure]:
    """Predicted against actual with the diagonal of perfect answers, residuals against predicted, and the
    residuals' histogram; the scatter plots show at most ``SCATTER_POINTS`` rows drawn at random."""
    shown = np.arange(len(actual))
    if len(shown) > SCATTER_POINTS:
        shown = np.sort(np.random.default_rng(0).choice(len(actual), SCATTER_POINTS, replace=False))
    note = f" ({len(shown):,} of {len(actual):,} rows)" if len(shown) < len(actual) else ""
    residuals = actual - predicted
    point = {"s": 6, "alpha": 0.6 if len(shown) < 2000 else 0.25, "color": "#4c72b0", "linewidths": 0}

    versus, ax = plt.subplots(figsize=(4.8, 4.6))
    ax.scatter(actual[shown], predicted[shown], **point)
    low, high = float(min(actual.min(), predicted.min())), float(max(actual.max(), predicted.max()))
    ax.plot([low, high], [low, high], color="#c44e52", linewidth=1, label="predicted = actual")
    ax.set(title=f"Predicted vs actual (test){note}", xlabel=f"actual {target}", ylabel=f"predicted {target}")
    ax.legend(fontsize=8)
    versus.tight_layout()

    spread, ax = plt.subplots(figsize=(5.6, 3.6))
    ax.scatter(predicted[shown], residuals[shown], **point)
    ax.axhline(0, color="#c44e52", linewidth=1)
    ax.set(title=f"Residuals vs predicted (test){note}", xlabel=f"predicted {target}", ylabel="actual - predicted")
    spread.tight_layout()

    histogram, ax = plt.subplots(figsize=(5.6, 3.4))
    ax.hist(residuals, bins=50, color="#4c72b0", alpha=0.8)
    ax.axvline(0, color="#c44e52", linewidth=1)
    ax.set(title="Residuals (test)", xlabel="actual - predicted", ylabel="rows")
    histogram.tight_layout()
    return {"predicted_vs_actual": versus, "residuals_vs_predicted": spread, "residual_histogram": histogram}


class _WithTableFacts(Evaluator):
    """An evaluator whose result also shows the table's columns and, once measured on the validation rows
    (before the test), each column's permutation importance."""

    def __init__(self, inner: Evaluator, data: TabularData):
        self.inner, self.data = inner, data

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        self.inner.update(outputs, targets)

    def compute(self) -> Evaluation:
        evaluation = self.inner.compute()
        columns = getattr(self.data, "column_rows", None)
        if columns:
            evaluation.tables["Columns"] = list(columns)
        importance = self.data.state.get("importance")
        if importance:
            from torchworks.tasks.tabular.importance import importance_chart

            ranked = sorted(importance, key=lambda row: -row["importance"])
            evaluation.figures["permutation_importance"] = importance_chart(
                ranked, "Permutation importance (validation)", "drop in score when the column is shuffled")
            evaluation.tables["Permutation importance (validation)"] = ranked
        return evaluation
