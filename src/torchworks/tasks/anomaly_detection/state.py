"""What an anomaly-detection bundle keeps: the columns and their encoding, the label's meaning, the network's
shape, the training scores' distribution and the threshold chosen from it (no torch)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from torchworks.families.tabular.state import TableState
from torchworks.tasks.state import TaskState


class AnomalyState(TaskState, TableState):
    """The preprocessing and decision state of an anomaly detector."""

    label: str | None = Field(None, description="The label column (judging only), or None.")
    anomaly_value: str | None = Field(None, description="The label value that marks an anomaly.")
    architecture: dict[str, Any] = Field(description="The network's constructor options as trained.")
    feature_scale: list[float] = Field(default_factory=list, description="Per feature: its mean contribution to "
                                       "the score on training rows, by which it is divided so every feature "
                                       "counts alike (autoencoder).")
    score_quantiles: list[float] = Field(default_factory=list, description="Training scores at the quantiles "
                                         "QUANTILE_LEVELS (anomaly_detection.thresholds).")
    threshold: str = Field("auto", description="The threshold setting: auto or a score.")
    contamination: float | None = Field(None, description="The share of rows flagged, when set.")
    decision_threshold: float | None = Field(None, description="The score from which a row is an anomaly.")
    top_features: int = Field(3, ge=0, description="Columns named per row.")
