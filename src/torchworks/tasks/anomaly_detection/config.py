"""Settings of the anomaly-detection task (on top of the engine's :class:`TrainConfig`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from torchworks.families.tabular.settings import TableColumnsConfig

MODEL_NAMES = ("autoencoder", "deep_svdd")


class AnomalyConfig(TableColumnsConfig):
    """Anomaly detection: no labels needed; a label column, when there is one, only judges the scores."""

    setting_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "data": ("label", "anomaly_value", "categorical", "numeric", "drop", "id", "max_rows", "max_categories"),
        "model": ("model", "width", "latent", "layers", "token_width", "dropout"),
        "prediction": ("threshold", "contamination", "top_features"),
    }

    label: str | None = Field(None, description="A column saying which rows are anomalies (is_fraud, is_ok): never "
                              "read by the model; AUROC and average precision are measured against it.")
    anomaly_value: str | None = Field(None, description="The label value that marks an anomaly; default: false/0 "
                                      "for a label named like is_ok, ok, normal or valid, else true/1/yes/anomaly.")
    model: str = Field("autoencoder", description="autoencoder: rows rebuilt from a narrow code, the score is the "
                       "rebuilding error (per column, so it says which columns are odd); deep_svdd: rows mapped "
                       "near one centre, the score is the distance (Ruff et al. 2018).")
    width: int = Field(128, ge=8, le=8192, description="Hidden units per layer.")
    latent: int = Field(8, ge=1, le=1024, description="Size of the code (autoencoder) or the mapped space "
                        "(deep_svdd).")
    layers: int = Field(2, ge=1, le=8, description="Hidden layers of the encoder (and of the decoder).")
    token_width: int = Field(8, ge=2, le=256, description="Numbers per feature token.")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout in the hidden layers.")
    threshold: str = Field("auto", description="The score from which a row is an anomaly: auto (the far-out "
                           "fence of the training scores, Q3 + 3 x IQR: no share of anomalies assumed) or a score. "
                           "Changeable at prediction time.")
    contamination: float | None = Field(None, gt=0, lt=0.5, description="When you know it: the share of rows "
                                        "flagged, as that quantile of the training scores (overrides threshold). "
                                        "Changeable at prediction time.")
    top_features: int = Field(3, ge=0, le=50, description="Columns named per row as contributing most to its score.")
    max_rows: int = Field(200_000, ge=100, le=100_000_000, description="Training reads at most this many rows, "
                          "drawn uniformly from the whole file (which is streamed, never loaded whole).")
    epochs: int = Field(20, ge=1, le=100_000, description="Maximum number of training epochs.")
    patience: int = Field(4, ge=0, description="Early stopping patience in epochs; 0 turns it off.")
    batch_size: int = Field(512, ge=1, le=65_536, description="Rows per optimisation step.")
    lr: float = Field(2e-3, gt=0, le=10.0, description="Peak learning rate.")
    weight_decay: float = Field(1e-5, ge=0, le=1.0, description="AdamW weight decay.")

    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold(cls, value: object) -> str:
        text = str(value).strip().lower()
        if text == "auto":
            return text
        try:
            float(text)
        except ValueError:
            raise ValueError(f"threshold must be auto or a score, got {value!r}") from None
        return text
