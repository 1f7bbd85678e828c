"""The anomaly-detection task: ties table reading, column encoding, the autoencoder and Deep SVDD, the
classical detectors, score thresholds and per-column explanations to the engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from torchworks.families.tabular.interface import TableInterface
from torchworks.tasks import register_task
from torchworks.tasks.anomaly_detection.config import AnomalyConfig
from torchworks.tasks.anomaly_detection.state import AnomalyState
from torchworks.tasks.protocol import Explainable, Exportable, PredictionStream, Servable, ServingSpec, StepOutput, Task
from torchworks.tasks.values import InputKinds

if TYPE_CHECKING:  # the task's modules import torch; they load when a method needs them
    import torch
    from torch import nn

    from torchworks.tasks.anomaly_detection.data import AnomalyData


@register_task
class AnomalyDetection(TableInterface, Task, Explainable, Exportable, Servable):
    """Rows of a table scored for how unusual they are, without labels: fraud, bots, data errors."""

    name = "anomaly-detection"
    description = "Score how unusual each row of a table is (CSV/TSV/Parquet/JSONL), no labels needed"
    config_class = AnomalyConfig
    state_class = AnomalyState
    primary_metric = "average_precision"  # against a label column, when the data has one
    prediction_options = ("threshold", "contamination", "top_features")
    explain_methods = ("reconstruction", "shap", "lime", "integrated_gradients")  # reconstruction: autoencoder
    explain_options = ("rows", "samples", "steps")
    input_kinds = InputKinds(files=(".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq", ".jsonl", ".ndjson"),
                             description="a table (.csv, .tsv, .parquet, .jsonl) with the training columns")

    def __init__(self) -> None:
        self._data: AnomalyData | None = None  # this run's rows, for Deep SVDD's centre

    def check_config(self, config: AnomalyConfig) -> None:
        from torchworks.tasks.anomaly_detection.models import check_model

        check_model(config.model)

    def prepare_data(self, config: AnomalyConfig, state: dict[str, Any] | None = None) -> AnomalyData:
        from torchworks.tasks.anomaly_detection.data import prepare_anomaly_data
        from torchworks.tasks.anomaly_detection.models import architecture

        data = prepare_anomaly_data(config, state)
        data.state.setdefault("architecture", architecture(config))
        self._data = data
        return data

    def build_model(self, config: AnomalyConfig, state: dict[str, Any], *, for_training: bool) -> nn.Module:
        from torchworks.tasks.anomaly_detection.models import build_detector

        model = build_detector(state)
        if for_training and self._data is not None:  # read off the training rows before training
            model.prepare(self._data.train[: min(len(self._data.train), 50_000)][0])
        return model

    def step(self, model: nn.Module, batch: Any, stage: str, state: dict[str, Any]) -> StepOutput:
        from torchworks.tasks.anomaly_detection.training import trimmed_loss

        inputs, labels = batch
        learned = getattr(model, "training_errors", model)  # the autoencoder learns in the squashed scale
        outputs = learned(inputs)
        return StepOutput(trimmed_loss(outputs, stage), outputs, labels, batch_size=len(labels))

    def calibrate(self, model: nn.Module, data: AnomalyData, config: AnomalyConfig) -> None:
        from torchworks.tasks.anomaly_detection.calibration import calibrate_detector

        calibrate_detector(model, data, config)

    def evaluator(self, data: AnomalyData, config: AnomalyConfig):
        from torchworks.tasks.anomaly_detection.evaluation import AnomalyEvaluator

        return AnomalyEvaluator(data.state, data.baselines)

    def baselines(self, data: AnomalyData, config: AnomalyConfig) -> dict[str, dict[str, Any]]:
        from torchworks.tasks.anomaly_detection.comparison import fit_baselines

        return fit_baselines(data, config)

    def baseline_advice(self, config: AnomalyConfig) -> list[str]:
        other = "deep_svdd" if config.model == "autoencoder" else "autoencoder"
        advice = [f"the other detector (model={other})", f"a narrower code (latent={max(2, config.latent // 2)})",
                  "dropping columns that are noise for this question (drop=...)"]
        if config.label:  # labels exist: a classifier learns what these anomalies look like
            dropped = ",".join(config.drop)
            advice.append(f"the supervised model (torchworks train tabular data={config.data} target={config.label}"
                          + (f" drop={dropped}" if dropped else "") + " class_weights=auto)")
        return advice

    def predict_inputs(self, inputs: Sequence[Any], state: dict[str, Any]):
        from torchworks.tasks.anomaly_detection.predicting import anomaly_inputs

        return anomaly_inputs(inputs, state)

    def format_predictions(self, outputs: torch.Tensor, ids: list[Any], state: dict[str, Any],
                           top_k: int) -> list[dict[str, Any]]:
        from torchworks.tasks.anomaly_detection.predicting import anomaly_records

        return anomaly_records(outputs, ids, state)

    def prediction_stream(self, inputs: Sequence[Any], state: dict[str, Any], batch_size: int
                          ) -> PredictionStream | None:
        from torchworks.tasks.anomaly_detection.predicting import anomaly_stream

        return anomaly_stream(inputs, state)

    def prediction_table(self, outputs: Any, context: Any, state: dict[str, Any]) -> Any:
        from torchworks.tasks.anomaly_detection.predicting import anomaly_table

        return anomaly_table(outputs, context, state)

    def explain(self, model: nn.Module, inputs: dict[str, torch.Tensor], ids: list[Any], state: dict[str, Any],
                method: str, target: str | None, options: dict[str, str]):
        from torchworks.tasks.anomaly_detection.explaining import explain_anomalies

        return explain_anomalies(model, inputs, ids, state, method, options)

    def row_scores(self, model: nn.Module, rows: Any, state: dict[str, Any]):
        from torchworks.families.tabular.rows import model_outputs
        from torchworks.tasks.anomaly_detection.scoring import contributions, scores_of

        return scores_of(contributions(model_outputs(model, rows), state))

    def serving(self, state: dict[str, Any]) -> ServingSpec:
        from torchworks.tasks.anomaly_detection.serving import anomaly_serving

        return anomaly_serving(state)

    def quickstart_settings(self) -> dict[str, Any]:
        return {"data": "ticket-sales", "label": "is_anomaly", "drop": "anomaly_kind,is_ok", "id": "order_id",
                "name": "quickstart-ticket-sales"}

