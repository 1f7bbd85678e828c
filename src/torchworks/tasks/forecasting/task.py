"""The forecasting task: ties series tables, windows, networks, backtests and baselines to the engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from torchworks.tasks import register_task
from torchworks.tasks.forecasting.config import ForecastingConfig
from torchworks.tasks.forecasting.state import INPUT_COLUMNS, ForecastingState
from torchworks.tasks.protocol import (
    Evaluation,
    Explainable,
    Explanation,
    Exportable,
    Resolved,
    Servable,
    ServingSpec,
    Task,
)
from torchworks.tasks.values import InputKinds

if TYPE_CHECKING:  # the task's modules import torch; they load when a method needs them
    import torch
    from torch import nn

    from torchworks.tasks.forecasting.data import ForecastData


@register_task
class Forecasting(Task, Explainable, Exportable, Servable):
    """Forecast the next ``horizon`` steps of one or many time series from their recent past."""

    name = "forecasting"
    description = "Forecast time series (prices, demand, sensors) with backtests against ARIMA/ETS"
    config_class = ForecastingConfig
    state_class = ForecastingState
    primary_metric = "mase"
    higher_is_better = False
    # the input's names for the model's columns (time=YEAR target=SUNACTIVITY), see predicting.py
    prediction_options = INPUT_COLUMNS
    explain_methods = ("integrated_gradients", "gradient_shap")
    explain_options = ("steps", "samples")
    input_kinds = InputKinds(files=(".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".parquet", ".pq"),
                             description="a table of recent values (.csv, .tsv, .jsonl or .parquet) with the "
                                         "training columns")

    def prepare_data(self, config: ForecastingConfig, state: dict[str, Any] | None = None) -> ForecastData:
        from torchworks.tasks.forecasting.data import prepare_forecast_data

        return prepare_forecast_data(config, state)

    def build_model(self, config: ForecastingConfig, state: dict[str, Any], *, for_training: bool) -> nn.Module:
        from torchworks.tasks.forecasting.models import build_forecaster

        return build_forecaster(
            config.model,
            lookback=state["lookback"],
            horizon=state["horizon"],
            n_features=state["n_features"],
            n_outputs=max(1, len(state["quantiles"])),
            hidden=config.hidden,
            layers=config.layers,
            heads=config.heads,
            dropout=config.dropout,
        )

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, state: dict[str, Any]) -> torch.Tensor:
        from torchworks.tasks.forecasting.losses import forecast_loss

        return forecast_loss(outputs, targets, state["quantiles"])

    def evaluate(self, outputs: torch.Tensor, targets: torch.Tensor, data: ForecastData,
                 config: ForecastingConfig) -> Evaluation:
        from torchworks.tasks.forecasting.evaluation import evaluate_forecasts

        return evaluate_forecasts(outputs, data)

    def data_choices(self, config: ForecastingConfig, data: ForecastData) -> dict[str, Resolved]:
        found = {"time": data.state["time_column"], "target": data.state["target_column"],
                 "season": data.state["season"]}
        return {key: Resolved(value) for key, value in found.items() if getattr(config, key) is None}

    def baseline_advice(self, config: ForecastingConfig) -> list[str]:
        advice = [] if config.model == "dlinear" else ["the linear model (model=dlinear)"]
        return [*advice, f"more epochs (epochs={max(50, 3 * config.epochs)})"]

    def baselines(self, data: ForecastData, config: ForecastingConfig) -> dict[str, dict[str, Any]]:
        from torchworks.tasks.forecasting.evaluation import baseline_metrics

        return baseline_metrics(data, config, progress=config.progress)

    def predict_inputs(self, inputs: Sequence[Any], state: dict[str, Any]):
        from torchworks.tasks.forecasting.predicting import recent_windows

        return recent_windows(inputs, state)

    def format_predictions(self, outputs: torch.Tensor, ids: list[Any], state: dict[str, Any],
                           top_k: int) -> list[dict[str, Any]]:
        from torchworks.tasks.forecasting.predicting import forecast_records

        return forecast_records(outputs, ids, state)

    def example_input(self, state: dict[str, Any]) -> torch.Tensor:
        import torch

        return torch.zeros(2, state["lookback"], state["n_features"])

    def explain(self, model: nn.Module, inputs: torch.Tensor, ids: list[Any], state: dict[str, Any], method: str,
                target: str | None, options: dict[str, str]) -> list[Explanation]:
        from torchworks.tasks.forecasting.explaining import explain_windows

        return explain_windows(model, inputs, ids, state, method, target, options)

    def serving(self, state: dict[str, Any]) -> ServingSpec:
        from torchworks.tasks.forecasting.serving import forecast_serving

        return forecast_serving(state)

    def from_json(self, item: list[Any], state: dict[str, Any]) -> Any:
        from torchworks.tasks.forecasting.serving import rows_to_frame

        return rows_to_frame(item)

    def quickstart_settings(self) -> dict[str, Any]:
        return {"data": "sunspots", "name": "quickstart-sunspots"}
