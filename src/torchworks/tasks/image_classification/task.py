"""The image-classification task: ties data, models, metrics and the baseline to the engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from torchworks.tasks import register_task
from torchworks.tasks.image_classification.config import ImageClassificationConfig
from torchworks.tasks.image_classification.state import ImageClassificationState
from torchworks.tasks.protocol import (
    Explainable,
    Explanation,
    Exportable,
    PreparedData,
    Resolved,
    Servable,
    ServingSpec,
    Task,
)
from torchworks.tasks.values import InputKinds

if TYPE_CHECKING:  # the task's modules import torch; they load when a method needs them
    import torch
    from torch import nn

# the suffixes decoding.IMAGE_SUFFIXES reads (that module imports PIL and numpy; this one stays light)
_IMAGE_FILES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@register_task
class ImageClassification(Task, Explainable, Exportable, Servable):
    """Classify images into one of N classes (X-rays, defects, digits...)."""

    name = "image-classification"
    description = "Classify images into classes: medical, industrial, documents (ImageFolder or CSV)"
    config_class = ImageClassificationConfig
    state_class = ImageClassificationState
    primary_metric = "accuracy"
    explain_methods = ("gradcam", "saliency", "integrated_gradients", "occlusion")
    explain_options = ("layer", "steps", "window")
    input_kinds = InputKinds(files=(*_IMAGE_FILES, ".csv"), folder_files=_IMAGE_FILES,
                             description="images (.png, .jpg, ...), folders of them, or a CSV of image paths")

    def check_config(self, config: ImageClassificationConfig) -> None:
        from torchworks.tasks.image_classification.models import check_model

        check_model(config.model, config.pretrained, config.weights)

    def prepare_data(self, config: ImageClassificationConfig, state: dict[str, Any] | None = None) -> PreparedData:
        from torchworks.tasks.image_classification.data import prepare_image_data
        from torchworks.tasks.image_classification.models import SMALL_CNN, chosen_model, normalization_of

        # pretrained weights fix the architecture (and its normalisation) before the data is read
        architecture = chosen_model(config.model, config.pretrained, config.weights, None)[0]
        uses_pretrained = (config.pretrained or config.weights) and architecture != SMALL_CNN
        normalization = normalization_of(architecture) if uses_pretrained else None
        return prepare_image_data(config, state, normalization)

    def data_choices(self, config: ImageClassificationConfig, data: PreparedData) -> dict[str, Resolved]:
        from torchworks.tasks.image_classification.models import AUTO, chosen_model

        if config.model != AUTO:
            return {}
        name, reason = chosen_model(config.model, config.pretrained, config.weights, len(data.train))
        return {"model": Resolved(name, reason)}

    def build_model(self, config: ImageClassificationConfig, state: dict[str, Any], *, for_training: bool) -> nn.Module:
        from torchworks.tasks.image_classification.models import build_classifier, chosen_model, pretrained_state

        # model=auto is settled by the engine from data_choices; rebuilt from the state it is the same choice
        name = chosen_model(config.model, config.pretrained, config.weights,
                            sum(state["train_class_counts"].values()))[0]
        initial = None
        if for_training and (config.pretrained or config.weights):
            initial = pretrained_state(name, config.weights)
        return build_classifier(name, len(state["labels"]), state["channels"], config.dropout, initial)

    def baseline_advice(self, config: ImageClassificationConfig) -> list[str]:
        from torchworks.tasks.image_classification.models import SMALL_CNN

        advice = []
        if config.model != SMALL_CNN and not (config.pretrained or config.weights):
            advice.append(f"a smaller model (model={SMALL_CNN})")
        if not (config.pretrained or config.weights):
            advice.append("pretrained weights (pretrained=true" + (" model=resnet18" if config.model == SMALL_CNN
                                                                    else "") + ")")
        advice.append(f"more epochs (epochs={max(30, 3 * config.epochs)})")
        return advice

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, state: dict[str, Any]) -> torch.Tensor:
        from torchworks.families.classification import class_weighted_loss

        return class_weighted_loss(outputs, targets, state)

    def training_callbacks(self, config: ImageClassificationConfig) -> list:
        from torchworks.tasks.image_classification.finetuning import BackboneFreezer

        return [BackboneFreezer(config.unfreeze_at)] if config.freeze == "backbone" else []

    def validation_metrics(self, state: dict[str, Any]):
        from torchworks.families.classification import validation_metrics

        return validation_metrics(state)

    def evaluator(self, data: PreparedData, config: ImageClassificationConfig):
        from torchworks.families.classification import ClassificationEvaluator
        from torchworks.tasks.image_classification.evaluation import misclassified_grid, prediction_grid

        return ClassificationEvaluator(data.state["labels"], config.positive, misclassified_grid(data.test),
                                       show_samples=prediction_grid(data.test))

    def baselines(self, data: PreparedData, config: ImageClassificationConfig) -> dict[str, dict[str, Any]]:
        from torchworks.tasks.image_classification.baseline import svc_baseline

        result = svc_baseline(data, config.seed)
        return {result.pop("name"): result}

    def predict_inputs(self, inputs: Sequence[Any], state: dict[str, Any]):
        from torchworks.tasks.image_classification.predicting import image_inputs

        return image_inputs(inputs, state)

    def format_predictions(self, outputs: torch.Tensor, ids: list[str], state: dict[str, Any],
                           top_k: int) -> list[dict[str, Any]]:
        from torchworks.families.classification import class_records

        return class_records(outputs, ids, state["labels"], top_k)

    def example_input(self, state: dict[str, Any]) -> torch.Tensor:
        import torch

        return torch.zeros(2, state["channels"], state["image_size"], state["image_size"])

    def explain(self, model: nn.Module, inputs: torch.Tensor, ids: list[Any], state: dict[str, Any], method: str,
                target: str | None, options: dict[str, str]) -> list[Explanation]:
        from torchworks.tasks.image_classification.explaining import explain_images

        return explain_images(model, inputs, ids, state, method, target, options)

    def serving(self, state: dict[str, Any]) -> ServingSpec:
        from torchworks.tasks.image_classification.decoding import IMAGE_SUFFIXES
        from torchworks.tasks.records import ClassPrediction

        return ServingSpec(input_kind="image", file_types=(".png", *sorted(IMAGE_SUFFIXES - {".png"})), json_item=None,
                           record=ClassPrediction)

    def quickstart_settings(self) -> dict[str, Any]:
        return {"data": "digits", "name": "quickstart-digits"}

