"""Settings of the tabular task (on top of the engine's :class:`TrainConfig`)."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from torchworks.families.tabular.settings import TableColumnsConfig

MODEL_NAMES = ("mlp", "ft_transformer", "tabm")
THRESHOLD = re.compile(r"^(auto|0?\.\d+|(precision|recall)@0?\.\d+)$")


class TabularConfig(TableColumnsConfig):
    """Tabular prediction: the target, what kind of problem it is, the network and the decision rule."""

    setting_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "data": ("target", "task_type", "categorical", "numeric", "drop", "id", "max_rows", "max_categories"),
        "model": ("model", "width", "layers", "token_width", "dropout", "ensemble"),
        "training": ("class_weights",),
        "prediction": ("threshold", "positive"),
    }

    target: str | None = Field(None, description="The column to predict; found by name (target, label, class, y) "
                               "when unset.")
    task_type: Literal["auto", "classification", "regression"] = Field(
        "auto", description="auto: regression for a target of numbers with many distinct values, else "
                            "classification.")
    model: str = Field("mlp", description="mlp: an MLP over periodic number embeddings and category embeddings; "
                       "ft_transformer: attention between feature tokens (FT-Transformer); tabm: a parameter-"
                       "efficient ensemble of MLPs (TabM), predictions averaged.")
    width: int = Field(256, ge=8, le=8192, description="mlp, tabm: hidden units per layer.")
    layers: int = Field(3, ge=1, le=16, description="Hidden layers (mlp, tabm) or attention blocks (ft_transformer).")
    token_width: int = Field(16, ge=4, le=512, description="Numbers per feature token (ft_transformer: per head "
                             "group, 64 is usual).")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout in the hidden layers.")
    ensemble: int = Field(8, ge=2, le=64, description="tabm: ensemble members.")
    class_weights: Literal["none", "auto"] = Field("none", description="auto: weigh each class's loss by its "
                                                   "inverse frequency (rare fraud, rare disease).")
    threshold: str = Field("0.5", description="Binary classification: the probability of the positive class from "
                           "which a row is positive: a number, auto (best F1 on validation), or precision@0.9 / "
                           "recall@0.8 (the lowest threshold with that precision, or the highest with that recall, "
                           "on validation).")
    positive: str | None = Field(None, description="Binary classification: the positive class (default: the "
                                 "rarer class, or 1/true/yes).")
    epochs: int = Field(40, ge=1, le=100_000, description="Maximum number of training epochs.")
    patience: int = Field(8, ge=0, description="Early stopping patience in epochs; 0 turns it off.")
    batch_size: int = Field(256, ge=1, le=65_536, description="Rows per optimisation step.")
    lr: float = Field(1e-3, gt=0, le=10.0, description="Peak learning rate.")
    weight_decay: float = Field(1e-5, ge=0, le=1.0, description="AdamW weight decay.")

    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold(cls, value: object) -> str:
        text = str(value).strip().lower()
        if not THRESHOLD.match(text):
            raise ValueError(f"threshold must be a probability (0.5), auto, precision@P or recall@R, got {value!r}")
        if "@" not in text and text != "auto" and not 0 < float(text) < 1:
            raise ValueError(f"threshold must lie between 0 and 1, got {value!r}")
        return text
