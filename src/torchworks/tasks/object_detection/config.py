"""Settings of the object-detection task (on top of the engine's :class:`TrainConfig`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from torchworks.config.schema import TrainConfig


class ObjectDetectionConfig(TrainConfig):
    """Detection settings: data, detector, augmentation that moves boxes with pixels, and what a
    prediction keeps (score and overlap thresholds, classes, tracking, tiling)."""

    setting_groups: ClassVar[dict[str, tuple[str, ...]]] = {  # sections of `torchworks settings`
        "data": ("image_size", "bad_files", "max_pixels"),
        "model": ("model", "pretrained", "weights"),
        "training": ("augment", "hflip", "color", "zoom_out", "iou_crop", "class_weights", "sampler"),
        "prediction": ("conf", "iou", "max_det", "classes", "track", "tile", "overlap"),
    }

    model: str = Field("compact", description="compact (an anchor-free detector that trains from scratch on a "
                       "CPU), or a torchvision detector: fasterrcnn_mobilenet_v3_large_320_fpn, "
                       "fasterrcnn_mobilenet_v3_large_fpn, fasterrcnn_resnet50_fpn_v2, retinanet_resnet50_fpn_v2, "
                       "fcos_resnet50_fpn, ssdlite320_mobilenet_v3_large.")
    pretrained: bool = Field(False, description="Start a torchvision detector from its COCO weights (local torch "
                             "cache).")
    weights: str | None = Field(None, description="A local .pth file of the detector's weights (its COCO "
                                "checkpoint); the class head is replaced.")
    image_size: int = Field(320, ge=64, le=2048, description="Side of the square model input: images are "
                            "letterboxed (scaled, aspect kept, padded) to it.")
    batch_size: int = Field(8, ge=1, le=4096, description="Images per optimisation step; when unset, smaller "
                            "for a training split too small to make 8 steps an epoch.")
    epochs: int = Field(10, ge=1, le=100_000, description="Maximum number of training epochs.")
    lr: float = Field(4e-3, gt=0, le=10.0, description="Peak learning rate.")
    weight_decay: float = Field(5e-4, ge=0, le=1.0, description="AdamW/SGD weight decay.")
    grad_clip: float = Field(10.0, ge=0, description="Clip gradient norm to this value; 0 turns it off.")
    val_fraction: float = Field(0.1, gt=0, lt=0.9, description="Share held out for validation (unsplit data).")
    test_fraction: float = Field(0.1, gt=0, lt=0.9, description="Share held out for testing (unsplit data).")
    augment: bool = Field(True, description="Random colour, zoom, IoU crop and flip while training.")
    hflip: float = Field(0.5, ge=0, le=1, description="Probability of a horizontal flip.")
    color: float = Field(0.0, ge=0, le=1, description="Probability of a colour jitter (brightness, contrast, "
                         "saturation, hue); off by default for the CPU budget, 0.8 suits photographs.")
    zoom_out: float = Field(0.2, ge=0, le=1, description="Probability of a zoom out (objects get smaller).")
    iou_crop: float = Field(0.2, ge=0, le=1, description="Probability of a random IoU crop (objects get larger).")
    class_weights: Literal["none", "auto"] = Field("none", description="auto: images are repeated by the rarity of "
                                                   "their rarest class (LVIS repeat-factor sampling).")
    sampler: Literal["random", "repeat_factor"] = Field("random", description="repeat_factor: the same as "
                                                        "class_weights=auto.")
    bad_files: Literal["skip", "fail"] = Field("skip", description="Images the annotations name that are "
                                               "missing or unreadable: skip them (counted) or fail.")
    max_pixels: int = Field(60_000_000, ge=64, description="Images larger than this are refused without decoding.")
    conf: float = Field(0.5, ge=0, le=1, description="Prediction: smallest score of a box kept (the compact "
                        "detector's score is the geometric mean of its class score and predicted IoU; at 0.5 about "
                        "seven in ten kept boxes are right on the sample).")
    iou: float = Field(0.5, gt=0, le=1, description="Prediction: IoU above which NMS removes the weaker box.")
    max_det: int = Field(100, ge=1, le=10_000, description="Prediction: most boxes per image.")
    classes: str | None = Field(None, description="Prediction: keep only these classes (names, comma-separated).")
    track: bool = Field(False, description="Prediction on video: give each object an id kept across frames.")
    tile: int = Field(0, ge=0, le=8192, description="Prediction: cut large images into tiles of this side "
                      "(pixels) and merge their boxes; 0 turns tiling off.")
    overlap: float = Field(0.2, ge=0, lt=0.9, description="Prediction: share of a tile that overlaps its "
                           "neighbour.")

    @field_validator("model")
    @classmethod
    def _model_name(cls, value: str) -> str:
        return value.strip().lower().replace("-", "_")
