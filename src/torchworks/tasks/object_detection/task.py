"""The object-detection task: ties the readers, the detectors, COCO metrics and box records to the engine."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchworks.tasks import register_task
from torchworks.tasks.object_detection.config import ObjectDetectionConfig
from torchworks.tasks.object_detection.state import ObjectDetectionState
from torchworks.tasks.protocol import (
    Explainable,
    Exportable,
    PreparedData,
    Servable,
    ServingSpec,
    Stage,
    StepOutput,
    Task,
)
from torchworks.tasks.values import InputKinds

if TYPE_CHECKING:  # the task's modules import torch; they load when a method needs them
    import torch
    from torch import nn

# the suffixes predicting.IMAGE_SUFFIXES reads (that module imports PIL and torch; this one stays light)
_IMAGE_FILES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# and video.VIDEO_SUFFIXES (that module imports PyAV)
_VIDEO_FILES = (".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts", ".mts",
                ".3gp", ".ogv")


@register_task
class ObjectDetection(Task, Explainable, Exportable, Servable):
    """Find and classify objects as boxes (vehicles, pedestrians, products, defects)."""

    name = "object-detection"
    description = "Find objects as labelled boxes: driving scenes, shelves, defects (COCO, YOLO or VOC data)"
    config_class = ObjectDetectionConfig
    state_class = ObjectDetectionState
    primary_metric = "map"
    monitor = ("val_map", "max")
    prediction_options = ("conf", "iou", "max_det", "classes", "track", "tile", "overlap")
    # the explaining module's METHODS and OPTIONS (that module imports torch; this one stays light)
    explain_methods = ("gradcam", "saliency", "integrated_gradients")
    explain_options = ("boxes", "conf", "layer", "steps")
    input_kinds = InputKinds(files=(*_IMAGE_FILES, *_VIDEO_FILES, ".csv"), folder_files=(*_IMAGE_FILES, *_VIDEO_FILES),
                             description="images (.png, .jpg, ...), videos (.mp4, .mov, .mkv, ...), folders of "
                                         "them, a CSV of their paths, or a camera index (0)")

    def check_config(self, config: ObjectDetectionConfig) -> None:
        from torchworks.tasks.object_detection.models import check_model

        check_model(config.model, config.pretrained, config.weights)

    def prepare_data(self, config: ObjectDetectionConfig, state: dict[str, Any] | None = None) -> PreparedData:
        from torchworks.tasks.object_detection.data import prepare_detection_data

        return prepare_detection_data(config, state)

    def collate_fn(self, *, labelled: bool):
        import torch

        from torchworks.tasks.object_detection.dataset import collate

        return collate if labelled else torch.stack

    def build_model(self, config: ObjectDetectionConfig, state: dict[str, Any], *, for_training: bool) -> nn.Module:
        from torchworks.tasks.object_detection.models import build_detector, recorded_architecture

        pretrained = for_training and config.pretrained
        return build_detector(state["model"], len(state["labels"]), state["image_size"], pretrained=pretrained,
                              weights_file=config.weights if for_training else None,
                              architecture=recorded_architecture(state))

    def step(self, model: nn.Module, batch: Any, stage: Stage, state: dict[str, Any]) -> StepOutput:
        from torchworks.tasks.object_detection.evaluation import evaluation_detections
        from torchworks.tasks.object_detection.models import evaluation_losses, training_losses

        images, targets = batch
        if stage == "train":
            losses = training_losses(model, images, targets)
            return StepOutput(losses.pop("loss"), None, targets, logs=losses, batch_size=len(targets))
        outputs = model(images)
        losses = evaluation_losses(model, images, outputs, targets)
        detections = evaluation_detections(outputs, state["image_size"])
        loss = losses.pop("loss") if losses else None
        return StepOutput(loss, detections, targets, logs=losses or {}, batch_size=len(targets))

    def parameter_groups(self, model: nn.Module, config: ObjectDetectionConfig) -> list[dict[str, Any]]:
        from torchworks.tasks.object_detection.models import decay_groups

        return decay_groups(model, config.lr, config.weight_decay)

    def validation_metrics(self, state: dict[str, Any]):
        from torchmetrics import MetricCollection

        from torchworks.tasks.object_detection.evaluation import ValidationMAP

        return MetricCollection({"map": ValidationMAP(state["labels"])})

    def evaluator(self, data: PreparedData, config: ObjectDetectionConfig):
        from torchworks.tasks.object_detection.evaluation import DetectionEvaluator

        return DetectionEvaluator(data.state["labels"], data.state["image_size"], data.test, conf=config.conf,
                                  iou=config.iou, max_det=config.max_det)

    def predict_inputs(self, inputs: Sequence[Any], state: dict[str, Any]):
        from torchworks.tasks.object_detection.predicting import image_inputs

        return image_inputs(inputs, state)

    def format_predictions(self, outputs: dict[str, torch.Tensor], ids: list[Any], state: dict[str, Any],
                           top_k: int) -> list[dict[str, Any]]:
        from torchworks.tasks.object_detection.predicting import box_records

        return box_records(outputs, ids, state)

    def reduce_outputs(self, outputs: dict[str, torch.Tensor], state: dict[str, Any]) -> dict[str, torch.Tensor]:
        from torchworks.tasks.object_detection.predicting import kept_boxes

        return kept_boxes(outputs, state)

    def csv_rows(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        from torchworks.tasks.object_detection.annotated import box_rows

        return box_rows(record)

    def companion_paths(self, output: Path) -> list[Path]:
        from torchworks.tasks.object_detection.annotated import annotated_folder

        return [annotated_folder(output)]

    def write_companions(self, records: list[dict[str, Any]], output: Path, state: dict[str, Any]) -> list[Path]:
        from torchworks.tasks.object_detection.annotated import write_annotated

        return write_annotated(records, output, state["labels"])

    def explain(self, model: nn.Module, inputs: torch.Tensor, ids: list[Any], state: dict[str, Any], method: str,
                target: str | None, options: dict[str, str]):
        from torchworks.tasks.object_detection.explaining import explain_detections

        return explain_detections(model, inputs, ids, state, method, target, options)

    def example_input(self, state: dict[str, Any]) -> torch.Tensor:
        import torch

        return torch.rand(2, 3, state["image_size"], state["image_size"])

    def dynamic_axes(self, state: dict[str, Any]) -> dict[str, dict[int, str]]:
        # The compact detector is convolutional: an export takes any height and width that are multiples
        # of 32 (its maps then have H/s x W/s cells), when traced at such a size (it pads others, and a
        # trace would keep the example's padding). Other detectors keep their traced size.
        from torchworks.tasks.object_detection.compact import SIZE_MULTIPLE, STRIDES
        from torchworks.tasks.object_detection.models import COMPACT

        if state.get("model", COMPACT) != COMPACT or state["image_size"] % SIZE_MULTIPLE:
            return {"input": {0: "batch"}}
        axes = {"input": {0: "batch", 2: "height", 3: "width"}}
        for stride in STRIDES:
            for output in ("cls", "box", "ctr"):
                axes[f"{output}_s{stride}"] = {0: "batch", 2: f"height/{stride}", 3: f"width/{stride}"}
        return axes

    def serving(self, state: dict[str, Any]) -> ServingSpec:
        from torchworks.tasks.object_detection.records import DetectionRecord

        # track, tile and overlap stay out: a request is independent images, not a video or a big scan
        return ServingSpec(input_kind="image", file_types=_IMAGE_FILES, json_item=None, record=DetectionRecord,
                           options=("conf", "iou", "max_det", "classes"), draws="boxes")

    def quickstart_settings(self) -> dict[str, Any]:
        return {"data": "detection-scenes", "name": "quickstart-scenes", "epochs": 2}
