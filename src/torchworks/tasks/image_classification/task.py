"""The image-classification task: ties data, models, metrics and the baseline to the engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from torchworks.tasks import register_task
from torchworks.tasks.image_classification.config import ImageClassificationConfig
from torchworks.tasks.image_classification.state import ImageClassificationState
from torchworks.tasks.protocol import Explainable, Explanation, Exportable, PreparedData, Servable, ServingSpec, Task

if TYPE_CHECKING:  # the task's modules import torch; they load when a method needs them
    import torch
    from torch import nn


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

    def check_config(self, config: ImageClassificationConfig) -> None:
        from torchworks.tasks.image_classification.models import check_model

        check_model(config.model, config.pretrained, config.weights)

    def prepare_data(self, config: ImageClassificationConfig, state: dict[str, Any] | None = None) -> PreparedData:
        from torchworks.tasks.image_classification.data import prepare_image_data
        from torchworks.tasks.image_classification.models import normalization_of

        uses_pretrained = (config.pretrained or config.weights) and config.model != "smallcnn"
        normalization = normalization_of(config.model) if uses_pretrained else None
        return prepare_image_data(config, state, normalization)

    def build_model(self, config: ImageClassificationConfig, state: dict[str, Any], *, for_training: bool) -> nn.Module:
        from torchworks.tasks.image_classification.models import build_classifier, pretrained_state

        initial = None
        if for_training and (config.pretrained or config.weights):
            initial = pretrained_state(config.model, config.weights)
        return build_classifier(config.model, len(state["labels"]), state["channels"], config.dropout, initial)

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
        from pathlib import Path

        from torchworks.errors import DataError
        from torchworks.tasks.image_classification.data import ImageDataset, InputsOnly, eval_transform
        from torchworks.tasks.image_classification.decoding import BadImage, decode_image, resize_short_side

        pixels, ids = [], []
        for item in inputs:
            for source, label in _expand(item):
                try:
                    image = decode_image(source, state["max_pixels"])
                except BadImage as exc:
                    raise DataError(f"cannot read image '{label}'", expected="a readable image file",
                                    got=str(exc), hint="fix or remove that file") from None
                pixels.append(resize_short_side(image.pixels, state["short_side"]))
                ids.append(label)
        if not ids:
            raise DataError("nothing to predict", expected="image files, folders of images or a CSV of paths",
                            got="no images in the inputs given")
        dataset = ImageDataset([Path(i) for i in ids], [-1] * len(ids), pixels, eval_transform(state), state)
        return InputsOnly(dataset), ids

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


def _expand(item: Any) -> list[tuple[Any, str]]:
    """One input -> ``(source, id)`` pairs: a file, every image in a folder, or every path in a CSV."""
    from pathlib import Path

    from PIL import Image

    from torchworks.errors import DataError
    from torchworks.tasks.image_classification.decoding import is_image_file
    from torchworks.uploads import Upload

    if isinstance(item, Image.Image):
        return [(item, f"<image {item.size[0]}x{item.size[1]}>")]
    if isinstance(item, Upload):
        return [(item, item.name)]
    path = Path(item).expanduser()
    if path.is_dir():
        return [(p, str(p)) for p in sorted(path.rglob("*")) if p.is_file() and is_image_file(p)]
    if path.suffix.lower() == ".csv" and path.is_file():
        import pandas as pd

        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        column = "path" if "path" in frame.columns else frame.columns[0]
        paths = [Path(p) if Path(p).is_absolute() else path.parent / p for p in frame[column] if p.strip()]
        return [(p, str(p)) for p in paths]
    if not path.exists():
        raise DataError(f"input '{item}' does not exist", expected="an image file, a folder or a CSV of paths",
                        got="no such file or folder", hint="check the path")
    return [(path, str(path))]
