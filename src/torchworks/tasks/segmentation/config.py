"""Settings of the segmentation task (on top of the engine's :class:`TrainConfig`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from torchworks.config.schema import TrainConfig

MODEL_NAMES = ("unet", "lraspp_mobilenet_v3_large", "deeplabv3_mobilenet_v3_large", "deeplabv3_resnet50",
               "fcn_resnet50")


class SegmentationConfig(TrainConfig):
    """Segmentation settings: data and class map, the network, losses, augmentation applied alike to
    image and mask, how metrics count background, and prediction on large images in tiles."""

    setting_groups: ClassVar[dict[str, tuple[str, ...]]] = {  # sections of `torchworks settings`
        "data": ("classes", "ignore_index", "image_size", "bad_files", "max_pixels"),
        "model": ("model", "base_channels", "depth", "input_stride", "pretrained", "weights"),
        "training": ("loss", "class_weights", "augment", "hflip", "vflip", "scale", "color"),
        "prediction": ("include_background", "tile", "overlap"),
    }

    classes: str | None = Field(None, description="classes.yaml: each class name with its mask value and, for "
                                "colour masks, its colour; read from the data folder when there is one there.")
    ignore_index: int = Field(255, ge=0, le=65535, description="Mask value of pixels that count for nothing "
                              "(not in the loss, not in any metric).")
    image_size: int = Field(256, ge=32, le=4096, description="Side of the square crops trained on; validation, "
                            "testing and prediction see whole images (padded to the network's stride).")
    bad_files: Literal["skip", "fail"] = Field("skip", description="An image without its mask, or a file that "
                                               "cannot be read: skip it (counted) or fail.")
    max_pixels: int = Field(60_000_000, ge=64, description="Images larger than this are refused without decoding "
                            "(predict on them with tile=).")
    model: str = Field("unet", description="unet (encoder-decoder with skip connections, trains from scratch on a "
                       "CPU), or a torchvision model: lraspp_mobilenet_v3_large, deeplabv3_mobilenet_v3_large, "
                       "deeplabv3_resnet50, fcn_resnet50.")
    base_channels: int = Field(16, ge=4, le=256, description="unet: channels of the first level (doubled at each "
                               "level down).")
    depth: int = Field(4, ge=1, le=6, description="unet: levels down (the input is padded to a multiple of "
                       "2^depth).")
    input_stride: int = Field(1, ge=1, le=2, description="unet: 2 runs every level at half resolution behind a "
                                        "strided convolution and upsamples the logits (~1.6x the steps per minute "
                                        "on a CPU; edges within a pixel or so).")
    pretrained: bool = Field(False, description="Start a torchvision model from its pretrained weights (local "
                             "torch cache).")
    weights: str | None = Field(None, description="A local .pth file of the torchvision model's weights; the "
                                "classifier is replaced.")
    loss: Literal["ce_dice", "ce", "dice", "focal"] = Field("ce_dice", description="Cross-entropy plus Dice "
                                                            "(default), cross-entropy, Dice or focal loss.")
    class_weights: Literal["none", "auto"] = Field("none", description="auto: cross-entropy weights each class by "
                                                   "the inverse square root of its share of training pixels.")
    augment: bool = Field(True, description="Random scale, crop, flips and colour while training.")
    hflip: float = Field(0.5, ge=0, le=1, description="Probability of a horizontal flip.")
    vflip: float = Field(0.0, ge=0, le=1, description="Probability of a vertical flip (0.5 suits scans, aerial "
                         "images and micrographs; not street scenes).")
    scale: float = Field(0.25, ge=0, lt=1, description="Scale jitter: images are resized by a factor in "
                         "[1 - scale, 1 + scale] before cropping.")
    color: float = Field(0.5, ge=0, le=1, description="Probability of a colour jitter (brightness, contrast, "
                         "saturation); the mask is left as it is.")
    include_background: bool = Field(True, description="Whether class 0 (background) counts in mIoU and Dice.")
    tile: int = Field(0, ge=0, le=16384, description="Prediction: cut images into tiles of this side (pixels), "
                      "blended at the seams; 0 predicts on the whole image.")
    overlap: float = Field(0.25, ge=0, lt=0.9, description="Prediction: share of a tile that overlaps its "
                           "neighbour.")
    batch_size: int = Field(8, ge=1, le=4096, description="Images per optimisation step; when unset, smaller "
                            "for a training split too small to make 8 steps an epoch.")
    epochs: int = Field(20, ge=1, le=100_000, description="Maximum number of training epochs.")
    lr: float = Field(3e-3, gt=0, le=10.0, description="Peak learning rate.")
    val_fraction: float = Field(0.1, gt=0, lt=0.9, description="Share held out for validation (unsplit data).")
    test_fraction: float = Field(0.1, gt=0, lt=0.9, description="Share held out for testing (unsplit data).")

    @field_validator("model")
    @classmethod
    def _model_name(cls, value: str) -> str:
        return value.strip().lower().replace("-", "_")
