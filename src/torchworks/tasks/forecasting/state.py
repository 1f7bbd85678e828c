"""What a forecasting bundle keeps: columns, frequency, window sizes and scalers (no torch here)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from torchworks.tasks.state import TaskState

# the settings that name the input's columns; given at prediction time (time=YEAR), they map an input's
# columns onto the ones the model was trained with (time_column, ...) rather than change the model
INPUT_COLUMNS = ("time", "target", "covariates", "series_id")


class SeriesScaler(BaseModel):
    """One series' standardisation, fitted on its training part: target first, then covariates."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    mean: list[float] = Field(min_length=1, description="Mean of each feature column.")
    std: list[float] = Field(min_length=1, description="Standard deviation of each feature column.")


class ForecastingState(TaskState):
    """The preprocessing state ``prepare_data`` fits on the training part of each series."""

    time_column: str = Field(description="Name of the time column.")
    target_column: str = Field(description="Name of the column forecast.")
    covariate_columns: list[str] = Field(description="Past covariate columns, in feature order after the target.")
    series_column: str | None = Field(description="Column naming each series, or None for a single series.")
    frequency: str | int = Field(description="Step between rows: a pandas offset alias for dates, an int for steps.")
    time_kind: Literal["steps", "dates"] = Field(description="Whether time is integer steps or dates.")
    season: int = Field(ge=1, description="Season length in steps, for seasonal baselines and plots.")
    lookback: int = Field(ge=1, description="Past steps the model sees.")
    horizon: int = Field(ge=1, description="Steps forecast at once.")
    quantiles: list[float] = Field(description="Quantiles forecast (empty: a point forecast).")
    fill: Literal["ffill", "interpolate", "none"] = Field(description="How missing timestamps or values are filled.")
    n_features: int = Field(ge=1, description="Columns the model reads per step: the target plus covariates.")
    scalers: dict[str, SeriesScaler] = Field(description="Each series' scaler, by series id ('' for a single one).")
