"""Settings of the image-classification task (on top of the engine's :class:`TrainConfig`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from torchworks.config.schema import TrainConfig


class ImageClassificationConfig(TrainConfig):
    """Image classification settings: backbone, transfer learning, augmentation, imbalance."""

    setting_groups: ClassVar[dict[str, tuple[str, ...]]] = {  # sections of `torchworks settings`
        "data": ("image_size", "crop", "bad_files", "max_pixels", "cache"),
        "model": ("model", "pretrained", "weights", "freeze", "dropout"),
        "training": ("unfreeze_at", "augment", "scale_min", "hflip", "rotation", "class_weights", "sampler"),
        "prediction": ("positive", "top_k"),
    }

    model: str = Field("auto", description="auto (smallcnn for a small training set without pretrained weights, "
                       "else resnet18), smallcnn, or any torchvision classification model name.")
    pretrained: bool = Field(False, description="Start from torchvision's ImageNet weights (local cache).")
    weights: str | None = Field(None, description="A local .pth/.safetensors file of backbone weights.")
    freeze: Literal["none", "backbone"] = Field("none", description="backbone: train only the new head.")
    unfreeze_at: int = Field(0, ge=0, description="Epoch (1-based) at which a frozen backbone is unfrozen.")
    image_size: int = Field(224, ge=8, le=1024, description="Side of the square model input.")
    crop: float = Field(0.875, gt=0.3, le=1.0, description="Centre-crop share at evaluation (224/256).")
    scale_min: float = Field(0.7, gt=0.05, le=1.0, description="Smallest area share of a random crop.")
    hflip: float = Field(0.5, ge=0, le=1, description="Probability of a horizontal flip.")
    rotation: float = Field(10.0, ge=0, le=180, description="Largest random rotation in degrees.")
    augment: bool = Field(True, description="Random crop/flip/rotation while training.")
    dropout: float = Field(0.2, ge=0, lt=1, description="Dropout before the classification head.")
    class_weights: Literal["none", "auto"] = Field("none", description="auto: inverse-frequency loss weights.")
    sampler: Literal["random", "weighted"] = Field("random", description="weighted: balance classes per epoch.")
    bad_files: Literal["skip", "fail"] = Field("skip", description="What to do with unreadable images.")
    max_pixels: int = Field(60_000_000, ge=64, description="Images larger than this are treated as bad files.")
    cache: Literal["auto", "true", "false"] = Field("auto", description="Keep resized images in memory.")
    positive: str | None = Field(None, description="Positive class for binary ROC (default: the second).")
    top_k: int = Field(3, ge=1, description="Classes listed per prediction.")

    @model_validator(mode="after")
    def _check_finetuning(self) -> ImageClassificationConfig:
        if self.unfreeze_at and self.freeze != "backbone":
            raise ValueError("unfreeze_at needs freeze=backbone")
        return self
