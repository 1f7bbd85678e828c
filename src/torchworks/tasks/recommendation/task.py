"""The recommendation task: ties the interaction readers, the leak-proof splits, the embedding models,
full-ranking evaluation and top-N lists to the engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from torchworks.tasks import register_task
from torchworks.tasks.protocol import (
    Explainable,
    Exportable,
    PreparedData,
    Resolved,
    Servable,
    ServingSpec,
    StepOutput,
    Task,
)
from torchworks.tasks.recommendation.config import RecommendationConfig
from torchworks.tasks.recommendation.state import RecommendationState
from torchworks.tasks.values import InputKinds

if TYPE_CHECKING:  # the task's modules import torch; they load when a method needs them
    import torch
    from torch import nn


@register_task
class Recommendation(Task, Explainable, Exportable, Servable):
    """Top-N lists from user-item interactions (ratings, purchases, plays): for known users, new users
    from a few items, and items like an item."""

    name = "recommendation"
    description = "Top-N items for users from interactions (CSV/Parquet/JSONL events or MovieLens folders)"
    config_class = RecommendationConfig
    state_class = RecommendationState
    primary_metric = "ndcg@10"
    monitor = ("val_ndcg", "max")
    prediction_options = ("k", "exclude_seen", "include", "exclude", "categories")
    query_options = ("user", "items", "similar", "item")
    explain_methods = ("similarity",)
    input_kinds = InputKinds(files=(".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".ndjson"),
                             description="user ids, user=ID, items=ID,ID, similar=ID, or a table of user ids "
                                         "(.csv, .tsv, .parquet, .jsonl)")

    def __init__(self) -> None:
        self._sampling: tuple[int, Any] | None = None  # (id of the popularity list, its log-probabilities)
        self._index: tuple[Any, Any] | None = None  # the bundle's item index and the item of each position
        self._model: nn.Module | None = None  # the loaded bundle's model, for items like an item
        self._similarity: tuple[Any, Any] | None = None  # (a model, its ItemSimilarity), made when first needed
        self._matrices: Any = None  # prepare_data's split as matrices, for the baselines
        self._features: Any = None  # two_tower's item features, put into the model built for training

    def check_config(self, config: RecommendationConfig) -> None:
        from torchworks.tasks.recommendation.models import check_item_index, check_model

        check_model(config.model)
        check_item_index(config)

    def prepare_data(self, config: RecommendationConfig, state: dict[str, Any] | None = None) -> PreparedData:
        from torchworks.tasks.recommendation.data import prepare_recommendation_data

        made = prepare_recommendation_data(config, state)
        self._matrices = made  # the baselines of this run fit on the same split, as matrices
        self._features = made.features  # two_tower's, put into the model it builds for training
        return made.prepared

    def data_choices(self, config: RecommendationConfig, data: PreparedData) -> dict[str, Resolved]:
        from torchworks.tasks.recommendation.data import resolved_loss

        made = self._matrices
        choices: dict[str, Resolved] = {}
        if made is not None and made.log.notes.get("layout") == "table":  # a MovieLens folder's columns are fixed
            for role, column in made.log.columns.items():
                if getattr(config, role, None) is None and role in ("user", "item", "rating", "weight", "time"):
                    choices[role] = Resolved(column)
        if config.loss == "auto":
            choices["loss"] = Resolved(resolved_loss(config), f"chosen: {config.feedback} feedback")
        return choices

    def collate_fn(self, *, labelled: bool):
        from torchworks.tasks.recommendation.dataset import collate, collate_queries

        return collate if labelled else collate_queries

    def build_model(self, config: RecommendationConfig, state: dict[str, Any], *, for_training: bool) -> nn.Module:
        from torchworks.tasks.recommendation.models import build_recommender

        model = build_recommender(state)
        if for_training and self._features is not None and hasattr(model, "set_features"):
            model.set_features(self._features.genres, self._features.numbers, self._features.text)
        return model

    def step(self, model: nn.Module, batch: Any, stage: str, state: dict[str, Any]) -> StepOutput:
        inputs, targets = batch
        if "item" not in inputs:  # users to rank: validation
            return StepOutput(None, model(inputs), targets, batch_size=len(inputs["user"]))
        from torchworks.tasks.recommendation.training import training_loss

        loss = training_loss(model, inputs, inputs["item"], targets["target"], state, self._log_q(state))
        return StepOutput(loss, batch_size=len(inputs["user"]))

    def _log_q(self, state: dict[str, Any]) -> torch.Tensor:
        """The negatives' log sampling probabilities, computed once per state."""
        if self._sampling is None or self._sampling[0] != id(state["popularity"]):
            from torchworks.tasks.recommendation.losses import negative_distribution

            self._sampling = (id(state["popularity"]), negative_distribution(state["popularity"]).log())
        return self._sampling[1]

    def validation_metrics(self, state: dict[str, Any]):
        from torchmetrics import MetricCollection

        from torchworks.tasks.recommendation.training import ValidationNDCG

        return MetricCollection({"ndcg": ValidationNDCG(state["popularity"])})

    def evaluator(self, data: PreparedData, config: RecommendationConfig):
        import numpy as np

        from torchworks.tasks.recommendation.evaluation import RecommendationEvaluator

        counts = np.bincount(data.train.users.numpy(), minlength=len(data.state["users"]))
        return RecommendationEvaluator(data.state, counts, data.baselines)

    def baselines(self, data: PreparedData, config: RecommendationConfig) -> dict[str, dict[str, Any]]:
        from torchworks.tasks.recommendation.comparison import fit_baselines

        return fit_baselines(self._matrices, data.state, config)

    def baseline_advice(self, config: RecommendationConfig) -> list[str]:
        return [f"more epochs (epochs={config.epochs * 2})", f"another penalty (l2={config.l2 * 3:g} or "
                f"{config.l2 / 3:g})",
                f"other sizes (factors={max(8, config.factors // 2)} or {config.factors * 2})"]

    def predict_inputs(self, inputs: Sequence[Any], state: dict[str, Any]):
        from torchworks.tasks.recommendation.predicting import recommendation_inputs

        return recommendation_inputs(inputs, state)

    def format_predictions(self, outputs: torch.Tensor, ids: list[Any], state: dict[str, Any],
                           top_k: int) -> list[dict[str, Any]]:
        from torchworks.tasks.recommendation.predicting import recommendation_records

        wanted = any(getattr(query, "similar", None) is not None for query in ids)  # items like an item
        return recommendation_records(outputs, ids, state, self._item_similarity(self._model) if wanted else None)

    def _item_similarity(self, model: nn.Module | None) -> Any:
        """The item space of ``model`` (the loaded bundle's, made once), or None without a model."""
        if model is None:
            return None
        if self._similarity is None or self._similarity[0] is not model:
            from torchworks.tasks.recommendation.predicting import ItemSimilarity

            self._similarity = (model, ItemSimilarity(model))
        return self._similarity[1]

    def csv_rows(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        from torchworks.tasks.recommendation.predicting import recommendation_rows

        return recommendation_rows(record)

    def explain(self, model: nn.Module, inputs: dict[str, torch.Tensor], ids: list[Any], state: dict[str, Any],
                method: str, target: str | None, options: dict[str, str]):
        from torchworks.tasks.recommendation.explaining import explain_recommendations

        return explain_recommendations(model, inputs, ids, state, target, self._item_similarity(model))

    def example_input(self, state: dict[str, Any]) -> dict[str, torch.Tensor]:
        from torchworks.tasks.recommendation.dataset import model_inputs
        from torchworks.tasks.recommendation.models import MODEL_INPUTS

        inputs = model_inputs([0, len(state["users"])], [[], [0, 1]])
        return {name: inputs[name] for name in MODEL_INPUTS[state["model"]]}

    def dynamic_axes(self, state: dict[str, Any]) -> dict[str, dict[int, str]]:
        axes = {"user": {0: "batch"}}
        return {**axes, "history": {0: "batch", 1: "length"}} if "history" in self.example_input(state) else axes

    def bundle_files(self, model: nn.Module, state: dict[str, Any], config: RecommendationConfig) -> dict[str, bytes]:
        from torchworks.tasks.recommendation.retrieval import INDEX_FILE, MIN_RECALL, build_item_index, index_kind

        kind = index_kind(config.item_index, model)
        state["item_index"] = None
        if kind is None:
            return {}
        from torchworks.console import say

        index, facts = build_item_index(model, state, kind)
        searched = f", ef_search {facts['ef_search']}" if facts["ef_search"] else ""
        measured = (f"item index: {kind} over {facts['items']:,} items in {facts['build_seconds']:.1f} s, recall@10 "
                    f"{facts['recall@10']:.3f} against exact search ({facts['users_measured']:,} users{searched})")
        if facts["recall@10"] < MIN_RECALL and config.item_index == "auto":
            say(f"[yellow]warning:[/yellow] {measured}: too far from exact, so lists will score every item "
                "(train longer, or item_index=hnsw to keep the index anyway)")
            return {}
        state["item_index"] = facts
        say(measured)
        return {INDEX_FILE: index.to_bytes()}

    def open_bundle_files(self, model: nn.Module, files: dict[str, bytes], state: dict[str, Any]) -> None:
        from torchworks.tasks.recommendation.retrieval import INDEX_FILE, read_item_index

        self._model = model
        self._index = read_item_index(files[INDEX_FILE], model, state.get("item_index")) \
            if INDEX_FILE in files else None

    def prediction_runner(self, model: Any, state: dict[str, Any]) -> Any:
        module = getattr(model, "model", model)  # the eager runner's module
        if self._index is None or not hasattr(module, "query_vectors"):
            return model  # every item scored (an export scores every item too)
        from torchworks.tasks.recommendation.retrieval import IndexedRanking

        return IndexedRanking(module, *self._index, state)

    def serving(self, state: dict[str, Any]) -> ServingSpec:
        from torchworks.tasks.recommendation.serving import recommendation_serving

        return recommendation_serving(state)

    def from_json(self, item: Any, state: dict[str, Any]) -> Any:
        from torchworks.tasks.recommendation.serving import query_from_json

        return query_from_json(item)

    def quickstart_settings(self) -> dict[str, Any]:
        return {"data": "movies", "name": "quickstart-movies"}
