"""The image-classification task: ties data, models, metrics and the baseline to the engine."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from torchworks.errors import DataError
from torchworks.tasks import register_task
from torchworks.tasks.image_classification.config import ImageClassificationConfig
from torchworks.tasks.image_classification.data import ImageDataset, eval_transform, prepare_image_data
from torchworks.tasks.image_classification.decoding import (
    IMAGE_SUFFIXES,
    BadImage,
    decode_image,
    is_image_file,
    resize_short_side,
)
from torchworks.tasks.image_classification.evaluation import evaluate_classifier
from torchworks.tasks.image_classification.explaining import METHODS as EXPLAIN_METHODS
from torchworks.tasks.image_classification.explaining import OPTIONS as EXPLAIN_OPTIONS
from torchworks.tasks.image_classification.models import (
    build_classifier,
    check_model,
    normalization_of,
    pretrained_state,
)
from torchworks.tasks.protocol import Evaluation, Explanation, PreparedData, ServingSpec, Task
from torchworks.tasks.records import ClassPrediction
from torchworks.uploads import Upload


@register_task
class ImageClassification(Task):
    """Classify images into one of N classes (X-rays, defects, digits...)."""

    name = "image-classification"
    description = "Classify images into classes: medical, industrial, documents (ImageFolder or CSV)"
    config_class = ImageClassificationConfig
    modes = ("train", "evaluate", "predict", "explain", "export", "benchmark", "serve")
    primary_metric = "accuracy"
    explain_methods = EXPLAIN_METHODS
    explain_options = EXPLAIN_OPTIONS

    def check_config(self, config: ImageClassificationConfig) -> None:
        check_model(config.model, config.pretrained, config.weights)

    def prepare_data(self, config: ImageClassificationConfig, state: dict[str, Any] | None = None) -> PreparedData:
        uses_pretrained = (config.pretrained or config.weights) and config.model != "smallcnn"
        normalization = normalization_of(config.model) if uses_pretrained else None
        return prepare_image_data(config, state, normalization)

    def build_model(self, config: ImageClassificationConfig, state: dict[str, Any], *, for_training: bool) -> nn.Module:
        initial = None
        if for_training and (config.pretrained or config.weights):
            initial = pretrained_state(config.model, config.weights)
        return build_classifier(config.model, len(state["labels"]), state["channels"], config.dropout, initial)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, state: dict[str, Any]) -> torch.Tensor:
        weights = state.get("class_weights")
        weight = torch.as_tensor(weights, dtype=outputs.dtype, device=outputs.device) if weights else None
        return F.cross_entropy(outputs.float(), targets, weight=weight)

    def training_callbacks(self, config: ImageClassificationConfig) -> list:
        from torchworks.tasks.image_classification.finetuning import BackboneFreezer

        return [BackboneFreezer(config.unfreeze_at)] if config.freeze == "backbone" else []

    def validation_metrics(self, state: dict[str, Any]):
        from torchmetrics import MetricCollection
        from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

        n = len(state["labels"])
        return MetricCollection({
            "accuracy": MulticlassAccuracy(n, average="micro"),
            "macro_f1": MulticlassF1Score(n, average="macro"),
        })

    def evaluate(self, outputs: torch.Tensor, targets: torch.Tensor, data: PreparedData,
                 config: ImageClassificationConfig) -> Evaluation:
        return evaluate_classifier(outputs, targets, data.state["labels"], data.test, config.positive)

    def baselines(self, data: PreparedData, config: ImageClassificationConfig) -> dict[str, dict[str, Any]]:
        from torchworks.tasks.image_classification.baseline import svc_baseline

        result = svc_baseline(data, config.seed)
        return {result.pop("name"): result}

    def predict_inputs(self, inputs: Sequence[Any], state: dict[str, Any]) -> tuple[ImageDataset, list[str]]:
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
        return _InputsOnly(dataset), ids

    def format_predictions(self, outputs: torch.Tensor, ids: list[str], state: dict[str, Any],
                           top_k: int) -> list[dict[str, Any]]:
        labels = state["labels"]
        probabilities = outputs.softmax(dim=1)
        k = min(top_k, len(labels))
        top = probabilities.topk(k, dim=1)
        records = []
        for row, identifier in enumerate(ids):
            best = [{"label": labels[int(c)], "probability": round(float(p), 6)}
                    for p, c in zip(top.values[row], top.indices[row])]
            records.append({"input": identifier, "label": best[0]["label"],
                            "probability": best[0]["probability"], "top_k": best})
        return records

    def example_input(self, state: dict[str, Any]) -> torch.Tensor:
        return torch.zeros(2, state["channels"], state["image_size"], state["image_size"])

    def explain(self, model: nn.Module, inputs: torch.Tensor, ids: list[Any], state: dict[str, Any], method: str,
                target: str | None, options: dict[str, str]) -> list[Explanation]:
        from torchworks.tasks.image_classification.explaining import explain_images

        return explain_images(model, inputs, ids, state, method, target, options)

    def serving(self, state: dict[str, Any]) -> ServingSpec:
        return ServingSpec(input_kind="image", file_types=(".png", *sorted(IMAGE_SUFFIXES - {".png"})), json_item=None,
                           record=ClassPrediction)

    def quickstart_settings(self) -> dict[str, Any]:
        return {"data": "digits", "name": "quickstart-digits"}


class _InputsOnly(torch.utils.data.Dataset):
    """A labelled dataset seen without its (unknown) labels, for prediction."""

    def __init__(self, dataset: ImageDataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.dataset[index][0]


def _expand(item: Any) -> list[tuple[Any, str]]:
    """One input -> ``(source, id)`` pairs: a file, every image in a folder, or every path in a CSV."""
    from PIL import Image

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
