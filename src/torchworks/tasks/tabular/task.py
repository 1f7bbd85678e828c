"""The tabular task: ties table reading, column encoding, the networks, the gradient-boosting and linear
baselines, thresholds and SHAP/LIME explanations to the engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from torchworks.families.tabular.interface import TableInterface
from torchworks.tasks import register_task
from torchworks.tasks.protocol import (
    Explainable,
    Exportable,
    PredictionStream,
    Resolved,
    Servable,
    ServingSpec,
    Task,
)
from torchworks.tasks.tabular.config import TabularConfig
from torchworks.tasks.tabular.state import TabularState
from torchworks.tasks.values import InputKinds

if TYPE_CHECKING:  # the task's modules import torch; they load when a method needs them
    import torch
    from torch import nn

    from torchworks.tasks.tabular.data import TabularData


@register_task
class Tabular(TableInterface, Task, Explainable, Exportable, Servable):
    """Classification (binary, multi-class) and regression over the columns of a table: credit scoring,
    fraud, churn, prices."""

    name = "tabular"
    description = "Predict a column of a table (CSV/TSV/Parquet/JSONL): classification or regression"
    config_class = TabularConfig
    state_class = TabularState
    primary_metric = "score"  # accuracy for classification, R2 for regression: both higher is better
    prediction_options = ("threshold",)
    explain_methods = ("shap", "lime", "gradient_shap", "integrated_gradients")
    explain_options = ("rows", "samples", "steps")
    input_kinds = InputKinds(files=(".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq", ".jsonl", ".ndjson"),
                             description="a table (.csv, .tsv, .parquet, .jsonl) with the training columns")

    def check_config(self, config: TabularConfig) -> None:
        from torchworks.tasks.tabular.models import check_model

        check_model(config.model)

    def prepare_data(self, config: TabularConfig, state: dict[str, Any] | None = None) -> TabularData:
        from torchworks.tasks.tabular.data import prepare_tabular_data
        from torchworks.tasks.tabular.models import architecture

        data = prepare_tabular_data(config, state)
        data.state.setdefault("architecture", architecture(config))
        return data

    def data_choices(self, config: TabularConfig, data: TabularData) -> dict[str, Resolved]:
        choices: dict[str, Resolved] = {}
        if config.target is None:
            choices["target"] = Resolved(data.state["target"])
        if config.task_type == "auto":
            choices["task_type"] = Resolved(data.state["task_type"], "inferred from the target's values")
        return choices

    def build_model(self, config: TabularConfig, state: dict[str, Any], *, for_training: bool) -> nn.Module:
        from torchworks.tasks.tabular.models import build_tabular_model

        return build_tabular_model(state)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, state: dict[str, Any]) -> torch.Tensor:
        if outputs.dim() == 3:  # tabm in training: every member is fitted to every row
            members = outputs.shape[1]
            outputs, targets = outputs.flatten(0, 1), targets.repeat_interleave(members)
        if state["task_type"] == "regression":
            from torch.nn import functional as F

            return F.mse_loss(outputs[:, 0].float(), targets.float())
        from torchworks.families.classification import class_weighted_loss

        return class_weighted_loss(outputs, targets, state)

    def validation_metrics(self, state: dict[str, Any]):
        if state["task_type"] == "regression":
            return None
        from torchworks.families.classification import validation_metrics

        return validation_metrics(state)

    def calibrate(self, model: nn.Module, data: TabularData, config: TabularConfig) -> None:
        from torchworks.tasks.tabular.calibration import calibrate_tabular

        calibrate_tabular(model, data, config)

    def evaluator(self, data: TabularData, config: TabularConfig):
        from torchworks.tasks.tabular.evaluation import tabular_evaluator

        return tabular_evaluator(data, config)

    def baselines(self, data: TabularData, config: TabularConfig) -> dict[str, dict[str, Any]]:
        from torchworks.tasks.tabular.baselines import fit_baselines

        return fit_baselines(data, config)

    def baseline_advice(self, config: TabularConfig) -> list[str]:
        others = [name for name in ("tabm", "ft_transformer", "mlp") if name != config.model]
        return [f"another model (model={others[0]})", f"more epochs (epochs={config.epochs * 2}, patience="
                f"{max(config.patience, 10)})", "more rows, if the file has them (max_rows=)"]

    def predict_inputs(self, inputs: Sequence[Any], state: dict[str, Any]):
        from torchworks.tasks.tabular.predicting import tabular_inputs

        return tabular_inputs(inputs, state)

    def format_predictions(self, outputs: torch.Tensor, ids: list[Any], state: dict[str, Any],
                           top_k: int) -> list[dict[str, Any]]:
        from torchworks.tasks.tabular.predicting import tabular_records

        return tabular_records(outputs, ids, state, top_k)

    def prediction_stream(self, inputs: Sequence[Any], state: dict[str, Any], batch_size: int
                          ) -> PredictionStream | None:
        from torchworks.tasks.tabular.predicting import tabular_stream

        return tabular_stream(inputs, state)

    def prediction_table(self, outputs: Any, context: Any, state: dict[str, Any]) -> Any:
        from torchworks.tasks.tabular.predicting import tabular_table

        return tabular_table(outputs, context, state)

    def explain(self, model: nn.Module, inputs: dict[str, torch.Tensor], ids: list[Any], state: dict[str, Any],
                method: str, target: str | None, options: dict[str, str]):
        from torchworks.tasks.tabular.explaining import explain_table_rows

        return explain_table_rows(model, inputs, ids, state, method, target, options)

    def row_scores(self, model: nn.Module, rows: Any, state: dict[str, Any]):
        """``rows=top:N`` ranks by the positive class's probability, the most probable class's, or the value."""
        from torchworks.families.tabular.rows import model_outputs

        outputs = model_outputs(model, rows)
        if state["task_type"] == "regression":
            return outputs[:, 0].numpy()
        probabilities = outputs.softmax(dim=1)
        if len(state["labels"]) == 2:
            return probabilities[:, state["labels"].index(state["positive"])].numpy()
        return probabilities.max(dim=1).values.numpy()

    def serving(self, state: dict[str, Any]) -> ServingSpec:
        from torchworks.tasks.tabular.serving import tabular_serving

        return tabular_serving(state)

    def quickstart_settings(self) -> dict[str, Any]:
        return {"data": "breast-cancer", "target": "target", "name": "quickstart-breast-cancer"}
