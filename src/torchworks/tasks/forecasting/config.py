"""Settings of the forecasting task (on top of the engine's :class:`TrainConfig`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from torchworks.config.schema import TrainConfig


class ForecastingConfig(TrainConfig):
    """Columns, windows, model and baselines of a forecasting run."""

    setting_groups: ClassVar[dict[str, tuple[str, ...]]] = {  # sections of `torchworks settings`
        "data": ("time", "target", "covariates", "series_id", "fill", "season", "horizon", "lookback"),
        "model": ("model", "hidden", "layers", "heads", "dropout", "quantiles"),
        "training": ("stride",),
    }

    time: str | None = Field(None, description="Time column (dates or integer steps); found by name when unset.")
    target: str | None = Field(None, description="Column to forecast; the only numeric column when unset.")
    covariates: list[str] = Field(default_factory=list, description="Past covariate columns, comma-separated.")
    series_id: str | None = Field(None, description="Column naming each series, for many series in one model.")
    horizon: int = Field(12, ge=1, le=10_000, description="Steps forecast at once (direct multi-horizon).")
    lookback: int = Field(48, ge=2, le=100_000, description="Past steps the model sees.")
    fill: Literal["ffill", "interpolate", "none"] = Field(
        "interpolate", description="Missing regular timestamps or values: fill this way, or none: an error."
    )
    season: int | None = Field(None, ge=1, description="Season length in steps; from the frequency when unset.")
    model: Literal["dlinear", "lstm", "gru", "transformer"] = Field("dlinear", description="Forecasting network.")
    hidden: int = Field(64, ge=4, le=4096, description="Hidden size of the recurrent/transformer models.")
    layers: int = Field(2, ge=1, le=16, description="Recurrent or encoder layers.")
    heads: int = Field(4, ge=1, le=64, description="Attention heads (transformer).")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout inside the network.")
    quantiles: list[float] = Field(default_factory=list, description="e.g. 0.1,0.5,0.9: intervals by pinball loss.")
    stride: int = Field(1, ge=1, description="Steps between training window origins.")

    @field_validator("covariates", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("quantiles", mode="before")
    @classmethod
    def _split_numbers(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, (int, float)):
            return [value]
        return value

    @field_validator("quantiles")
    @classmethod
    def _check_quantiles(cls, value: list[float]) -> list[float]:
        if any(not 0 < q < 1 for q in value):
            raise ValueError("each quantile must be between 0 and 1")
        if len(set(value)) != len(value):
            raise ValueError("quantiles must not repeat")
        if value and 0.5 not in value:
            raise ValueError("quantiles must include 0.5 (the point forecast)")
        return sorted(value)

    @model_validator(mode="after")
    def _check_heads(self) -> ForecastingConfig:
        if self.model == "transformer" and self.hidden % self.heads:
            raise ValueError(f"hidden={self.hidden} must be a multiple of heads={self.heads}")
        return self
