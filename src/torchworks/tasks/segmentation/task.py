"""The segmentation task: ties the readers, U-Net and torchvision networks, pixel metrics and mask files
to the engine."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchworks.tasks import register_task
from torchworks.tasks.protocol import Explainable, Exportable, PreparedData, Servable, ServingSpec, Task
from torchworks.tasks.segmentation.config import SegmentationConfig
from torchworks.tasks.segmentation.state import SegmentationState
from torchworks.tasks.values import InputKinds

if TYPE_CHECKING:  # the task's modules import torch; they load when a method needs them
    import torch
    from torch import nn

# the suffixes predicting.IMAGE_SUFFIXES reads (that module imports PIL and torch; this one stays light)
_IMAGE_FILES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# volume_reading.VOLUME_SUFFIXES (that module imports numpy)
_VOLUME_FILES = (".nii", ".nii.gz", ".npy")


@register_task
class Segmentation(Task, Explainable, Exportable, Servable):
    """A class for every pixel: organs and lesions on scans, roads, defects (image and mask folders,
    a CSV of pairs, or COCO polygons)."""

    name = "segmentation"
    description = "A class for every pixel: scans, roads, defects (image/mask folders, CSV pairs or COCO JSON)"
    config_class = SegmentationConfig
    state_class = SegmentationState
    primary_metric = "miou"
    monitor = ("val_miou", "max")
    prediction_options = ("tile", "overlap")
    # the explaining module's METHODS and OPTIONS (that module imports torch; this one stays light)
    explain_methods = ("gradcam", "saliency", "integrated_gradients")
    explain_options = ("layer", "steps")
    input_kinds = InputKinds(files=(*_IMAGE_FILES, *_VOLUME_FILES, ".csv"),
                             folder_files=(*_IMAGE_FILES, *_VOLUME_FILES),
                             description="images (.png, .jpg, .tif, ...), volumes (.nii, .nii.gz, .npy), folders "
                                         "of them, or a CSV of their paths")

    def check_config(self, config: SegmentationConfig) -> None:
        from torchworks.tasks.segmentation.models import check_model

        check_model(config.model, config.pretrained, config.weights)

    def prepare_data(self, config: SegmentationConfig, state: dict[str, Any] | None = None) -> PreparedData:
        from torchworks.tasks.segmentation.data import prepare_segmentation_data

        return prepare_segmentation_data(config, state)

    def collate_fn(self, *, labelled: bool):
        from torchworks.tasks.segmentation.dataset import collate, collate_images

        return collate if labelled else collate_images

    def build_model(self, config: SegmentationConfig, state: dict[str, Any], *, for_training: bool) -> nn.Module:
        from torchworks.tasks.segmentation.models import build_segmenter

        return build_segmenter(state["model"], len(state["labels"]), state["architecture"],
                               pretrained=for_training and config.pretrained,
                               weights_file=config.weights if for_training else None)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, state: dict[str, Any]) -> torch.Tensor:
        from torchworks.tasks.segmentation.losses import segmentation_loss

        return segmentation_loss(outputs, targets, kind=state["loss"], ignore_index=state["ignore_index"],
                                 class_weights=state["class_weights"])

    def validation_metrics(self, state: dict[str, Any]):
        from torchmetrics import MetricCollection

        from torchworks.tasks.segmentation.metrics import ValidationMIoU

        return MetricCollection({"miou": ValidationMIoU(state["labels"], state["ignore_index"])})

    def evaluator(self, data: PreparedData, config: SegmentationConfig):
        from torchworks.tasks.segmentation.evaluation import SegmentationEvaluator

        state = data.state
        return SegmentationEvaluator(state["labels"], state["ignore_index"], state["colours"], data.test,
                                     include_background=config.include_background)

    def baselines(self, data: PreparedData, config: SegmentationConfig) -> dict[str, dict[str, Any]]:
        from torchworks.tasks.segmentation.baselines import segmentation_baselines

        state = data.state
        return segmentation_baselines(data.train.plain(), data.test, state["labels"], state["ignore_index"],
                                      include_background=config.include_background, seed=config.seed,
                                      progress=config.progress)

    def predict_inputs(self, inputs: Sequence[Any], state: dict[str, Any]):
        from torchworks.tasks.segmentation.predicting import picture_inputs

        return picture_inputs(inputs, state)

    def prediction_runner(self, model: Any, state: dict[str, Any]) -> Any:
        from torchworks.tasks.segmentation.predicting import prediction_runner

        return prediction_runner(model, state)

    def reduce_outputs(self, outputs: torch.Tensor, state: dict[str, Any]) -> dict[str, torch.Tensor]:
        from torchworks.tasks.segmentation.predicting import class_maps

        return class_maps(outputs, state)

    def format_predictions(self, outputs: dict[str, torch.Tensor], ids: list[Any], state: dict[str, Any],
                           top_k: int) -> list[dict[str, Any]]:
        from torchworks.tasks.segmentation.predicting import prediction_records

        return prediction_records(outputs, ids, state)

    def csv_rows(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        from torchworks.tasks.segmentation.mask_files import class_rows

        return class_rows(record)

    def companion_paths(self, output: Path) -> list[Path]:
        from torchworks.tasks.segmentation.mask_files import masks_folder

        return [masks_folder(output)]

    def write_companions(self, records: list[dict[str, Any]], output: Path, state: dict[str, Any]) -> list[Path]:
        from torchworks.tasks.segmentation.mask_files import write_mask_files

        return write_mask_files(records, output, state)

    def explain(self, model: nn.Module, inputs: torch.Tensor, ids: list[Any], state: dict[str, Any], method: str,
                target: str | None, options: dict[str, str]):
        from torchworks.tasks.segmentation.explaining import explain_segments

        return explain_segments(model, inputs, ids, state, method, target, options)

    def example_input(self, state: dict[str, Any]) -> torch.Tensor:
        import torch

        return torch.rand(2, 3, 64, 96)

    def dynamic_axes(self, state: dict[str, Any]) -> dict[str, dict[int, str]]:
        return {"input": {0: "batch", 2: "height", 3: "width"}}

    def serving(self, state: dict[str, Any]) -> ServingSpec:
        from torchworks.tasks.segmentation.serving import segmentation_serving

        return segmentation_serving(state, _IMAGE_FILES)

    def quickstart_settings(self) -> dict[str, Any]:
        return {"data": "lesions", "name": "quickstart-lesions", "epochs": 2}
