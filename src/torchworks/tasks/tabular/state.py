"""What a tabular bundle keeps: the columns and their encoding, the target and its classes or scale, the
decision threshold, and what was measured after training (no torch)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from torchworks.families.tabular.state import TableState
from torchworks.tasks.state import TaskState


class TabularState(TaskState, TableState):
    """The preprocessing and decision state of a tabular model."""

    target: str = Field(description="The target column.")
    task_type: Literal["classification", "regression"] = Field(description="What the model predicts.")
    labels: list[str] = Field(default_factory=list, description="Classification: the classes, in the order of the "
                              "model's outputs.")
    positive: str | None = Field(None, description="Binary: the positive class.")
    threshold: str = Field("0.5", description="Binary: the threshold setting (a probability, auto, precision@P).")
    decision_threshold: float | None = Field(None, description="Binary: the probability of the positive class from "
                                             "which a row is positive, as chosen.")
    threshold_choice: dict[str, Any] = Field(default_factory=dict, description="How the threshold was chosen: "
                                             "validation precision, recall and F1 at it.")
    class_weights: list[float] | None = Field(None, description="Loss weight per class (class_weights=auto).")
    target_center: float = Field(0.0, description="Regression: the training targets' mean.")
    target_scale: float = Field(1.0, gt=0, description="Regression: the training targets' standard deviation.")
    architecture: dict[str, Any] = Field(description="The network's constructor options as trained.")
    importance: list[dict[str, Any]] = Field(default_factory=list, description="Permutation importance of each "
                                             "column on the validation split (drop in the primary metric).")
