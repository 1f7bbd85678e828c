"""The text-classification task: ties texts, tokenizers, networks, metrics and the baseline to the engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import StringConstraints

from torchworks.tasks import register_task
from torchworks.tasks.protocol import (
    Evaluator,
    Explainable,
    Explanation,
    Exportable,
    Resolved,
    Servable,
    ServingSpec,
    Task,
)
from torchworks.tasks.text_classification.config import TextClassificationConfig
from torchworks.tasks.text_classification.state import TextClassificationState
from torchworks.tasks.values import InputKinds

if TYPE_CHECKING:  # the task's modules import torch; they load when a method needs them
    import torch
    from torch import nn

    from torchworks.tasks.text_classification.data import TextData

# one text of a request: long enough for any ticket or review, short enough to refuse a pasted book
ServedText = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]


@register_task
class TextClassification(Task, Explainable, Exportable, Servable):
    """Route support tickets, score sentiment, detect intents: one label (or several) per text."""

    name = "text-classification"
    description = "Classify texts (tickets, reviews, intents): scratch models or a pretrained encoder"
    config_class = TextClassificationConfig
    state_class = TextClassificationState
    primary_metric = "macro_f1"
    prediction_options = ("threshold",)
    # predicting.TABLE_FILES and TEXT_FILES (that module imports torch)
    input_kinds = InputKinds(files=(".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".parquet", ".pq", ".txt"),
                             description="text, or a file of texts (.csv/.tsv/.jsonl/.parquet with a text column, "
                                         ".txt with one per line)")
    explain_methods = ("integrated_gradients",)
    explain_options = ("steps",)

    def check_config(self, config: TextClassificationConfig) -> None:
        if config.pretrained:
            from torchworks.tasks.text_classification.pretrained import locate_encoder

            locate_encoder(config.model)  # fails at once, before any data is read, when not on this machine

    def prepare_data(self, config: TextClassificationConfig, state: dict[str, Any] | None = None) -> TextData:
        from torchworks.tasks.text_classification.data import prepare_text_data

        return prepare_text_data(config, state)

    def collate_fn(self, *, labelled: bool):
        from functools import partial

        from torchworks.tasks.text_classification.data import collate_tokens

        return partial(collate_tokens, labelled=labelled)

    def build_model(self, config: TextClassificationConfig, state: dict[str, Any], *, for_training: bool) -> nn.Module:
        n = len(state["labels"])
        if state["pretrained"]:
            from torchworks.tasks.text_classification.pretrained import build_pretrained, locate_encoder

            folder = locate_encoder(config.model) if for_training else None
            return build_pretrained(state, n, config.dropout, config.freeze == "encoder", folder)
        from torchworks.tasks.text_classification.models import build_scratch_model

        return build_scratch_model(config.model, state["vocab_size"], n, dim=config.embedding_dim,
                                   hidden=config.hidden, layers=config.layers, heads=config.heads,
                                   dropout=config.dropout, max_length=state["max_length"])

    def parameter_groups(self, model: nn.Module, config: TextClassificationConfig) -> list[dict[str, Any]] | None:
        if not hasattr(model, "head_parameters"):
            return None
        head = model.head_parameters()
        if config.freeze == "encoder":
            return [{"params": head, "lr": config.lr}]
        chosen = {id(p) for p in head}
        body = [p for p in model.parameters() if id(p) not in chosen]
        return [{"params": body, "lr": config.lr}, {"params": head, "lr": config.lr * config.head_lr_scale}]

    def training_callbacks(self, config: TextClassificationConfig) -> list:
        if config.pretrained and config.freeze == "encoder":
            from torchworks.tasks.text_classification.pretrained import EmbeddingCache

            return [EmbeddingCache()]
        return []

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, state: dict[str, Any]) -> torch.Tensor:
        from torchworks.families.classification import class_weighted_loss

        return class_weighted_loss(outputs, targets, state)

    def validation_metrics(self, state: dict[str, Any]):
        from torchworks.families.classification import validation_metrics

        return validation_metrics(state)

    def evaluator(self, data: TextData, config: TextClassificationConfig) -> Evaluator:
        from torchworks.families.classification import ClassificationEvaluator
        from torchworks.evaluation import CollectingEvaluator
        from torchworks.tasks.text_classification.evaluation import evaluate_multi_label, mistaken_texts, sampled_texts

        texts = data.texts["test"]
        if data.state["multi_label"]:
            return CollectingEvaluator(lambda outputs, targets: evaluate_multi_label(outputs, targets, data.state,
                                                                                     texts))
        return ClassificationEvaluator(data.state["labels"], show_mistakes=mistaken_texts(texts),
                                       show_samples=sampled_texts(texts))

    def data_choices(self, config: TextClassificationConfig, data: TextData) -> dict[str, Resolved]:
        found = {"text": data.state["text_column"], "label": data.summary.get("label column")}
        return {key: Resolved(value) for key, value in found.items() if getattr(config, key) is None and value}

    def baseline_advice(self, config: TextClassificationConfig) -> list[str]:
        advice = [] if config.pretrained else ["the pretrained encoder (model=minilm)"]
        if config.freeze == "encoder":
            advice.append("fine-tuning the whole encoder (freeze=none)")
        return [*advice, f"more epochs (epochs={max(10, 3 * config.epochs)})"]

    def baselines(self, data: TextData, config: TextClassificationConfig) -> dict[str, dict[str, Any]]:
        from torchworks.tasks.text_classification.baseline import tfidf_baseline

        return tfidf_baseline(data, config.seed, config.class_weights == "auto")

    def predict_inputs(self, inputs: Sequence[Any], state: dict[str, Any]):
        from torchworks.tasks.text_classification.predicting import text_inputs

        return text_inputs(inputs, state)

    def format_predictions(self, outputs: torch.Tensor, ids: list[Any], state: dict[str, Any],
                           top_k: int) -> list[dict[str, Any]]:
        from torchworks.tasks.text_classification.predicting import prediction_records

        return prediction_records(outputs, ids, state, top_k)

    def example_input(self, state: dict[str, Any]) -> dict[str, torch.Tensor]:
        import torch

        from torchworks.tasks.text_classification.data import collate_tokens

        return collate_tokens([torch.tensor([state["pad_id"] + 1] * 6), torch.tensor([state["pad_id"] + 1] * 4)],
                              labelled=False)

    def dynamic_axes(self, state: dict[str, Any]) -> dict[str, dict[int, str]]:
        return {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}

    def explain(self, model: nn.Module, inputs: dict[str, torch.Tensor], ids: list[Any], state: dict[str, Any],
                method: str, target: str | None, options: dict[str, str]) -> list[Explanation]:
        from torchworks.tasks.text_classification.explaining import explain_texts

        return explain_texts(model, inputs, ids, state, method, target, options)

    def serving(self, state: dict[str, Any]) -> ServingSpec:
        from torchworks.tasks.text_classification.predicting import TABLE_FILES, TEXT_FILES, TextPrediction

        return ServingSpec(input_kind="text", file_types=TABLE_FILES + TEXT_FILES, json_item=ServedText,
                           record=TextPrediction, example="my card was charged twice",
                           options=("threshold",) if state.get("multi_label") else ())

    def from_json(self, item: str, state: dict[str, Any]) -> Any:
        from torchworks.tasks.text_classification.predicting import InlineText

        return InlineText(item)

    def quickstart_settings(self) -> dict[str, Any]:
        return {"data": "tickets", "name": "quickstart-tickets", "freeze": "encoder"}
