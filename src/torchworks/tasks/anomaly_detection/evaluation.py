"""Test-set evaluation of a detector: with labels, AUROC and average precision (what fraud teams read) and
precision and recall at the threshold; always, the scores' distribution with the cut, the share flagged and
the most anomalous test rows with the columns that made them so."""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np
import torch

from torchworks.evaluation import Evaluation, Evaluator
from torchworks.tasks.anomaly_detection.scoring import column_parts, contributions, feature_columns, scores_of

SHOWN_ROWS = 20


def detection_scores(scores: np.ndarray, labels: np.ndarray, threshold: float | None = None) -> dict[str, Any]:
    """AUROC and average precision of ``scores`` against ``labels`` (1 anomaly, 0 normal, -1 unknown: left
    out), None when the labelled rows hold one class; with a threshold, precision, recall and F1 there."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    known = labels >= 0
    truth, scored = labels[known].astype(int), scores[known]
    metrics: dict[str, Any] = {"auroc": None, "average_precision": None}
    if len(np.unique(truth)) == 2:
        metrics["auroc"] = round(float(roc_auc_score(truth, scored)), 6)
        metrics["average_precision"] = round(float(average_precision_score(truth, scored)), 6)
    if threshold is not None and len(truth):
        said = scored >= threshold
        hits = int((said & (truth == 1)).sum())
        precision = hits / max(1, int(said.sum()))
        recall = hits / max(1, int((truth == 1).sum()))
        metrics.update(precision=round(precision, 6), recall=round(recall, 6),
                       f1=round(2 * precision * recall / (precision + recall), 6) if precision + recall else 0.0)
    return metrics


class AnomalyEvaluator(Evaluator):
    """Keeps each test row's score and label (8 bytes each) and the most anomalous rows' column parts."""

    def __init__(self, state: dict[str, Any], baselines: dict[str, dict[str, Any]]):
        self.state, self.baselines = state, baselines
        self._scores: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []
        self._top: list[tuple[float, int, list[float]]] = []  # min-heap of (score, row, parts by column)
        self._seen = 0

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        parts = contributions(outputs, self.state)
        scores = scores_of(parts)
        grouped = column_parts(parts, self.state)
        for row in np.argsort(-scores)[:SHOWN_ROWS]:
            entry = (float(scores[row]), self._seen + int(row), [] if grouped is None else grouped[row].tolist())
            (heapq.heappush if len(self._top) < SHOWN_ROWS else heapq.heappushpop)(self._top, entry)
        self._scores.append(scores)
        self._labels.append(targets.numpy().astype(np.float64))
        self._seen += len(scores)

    def compute(self) -> Evaluation:
        scores, labels = np.concatenate(self._scores), np.concatenate(self._labels)
        threshold = float(self.state["decision_threshold"])
        metrics = {**detection_scores(scores, labels, threshold), "threshold": round(threshold, 6),
                   "flagged_share": round(float((scores >= threshold).mean()), 6), "test_samples": len(scores)}
        from torchworks.tasks.anomaly_detection.figures import detector_comparison, score_histogram

        figures = {"scores": score_histogram(scores, labels, threshold)}
        if metrics["average_precision"] is not None and self.baselines:
            figures["against_baselines"] = detector_comparison(metrics, self.baselines)
        return Evaluation(metrics, figures, {"Most anomalous test rows": self._top_rows()})

    def _top_rows(self) -> list[dict[str, Any]]:
        columns = feature_columns(self.state)[0]
        rows = []
        for score, row, parts in sorted(self._top, reverse=True):
            named = sorted(zip(columns, parts), key=lambda pair: -pair[1])[:3]
            rows.append({"test row": row, "score": round(score, 4),
                         "top columns": ", ".join(f"{name} ({share / score:.0%})" for name, share in named)
                         if parts and score > 0 else ""})
        return rows
