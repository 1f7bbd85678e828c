"""The classical detectors beside the model on the same rows: fitted on the training rows, scored on the test
rows, and judged against the label column when there is one (the same metrics as the model)."""

from __future__ import annotations

from typing import Any

from torchworks.tasks.anomaly_detection.data import AnomalyData
from torchworks.tasks.anomaly_detection.detectors import fit_detectors
from torchworks.tasks.anomaly_detection.evaluation import detection_scores


def fit_baselines(data: AnomalyData, config: Any) -> dict[str, dict[str, Any]]:
    """``{detector: {"auroc", "average_precision", "fit_seconds", "score_seconds"}}``: z-score,
    IsolationForest, HBOS and ECOD (the last two when PyOD is installed)."""
    detected = fit_detectors(data.encoded["train"], data.encoded["test"], config.seed)
    labels = data.labels["test"]
    return {name: {**detection_scores(result.scores, labels), "fit_seconds": round(result.fit_seconds, 3),
                   "score_seconds": round(result.score_seconds, 3)} for name, result in detected.items()}
