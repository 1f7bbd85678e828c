"""What a segmentation bundle keeps: the class map, how masks were stored and the network's shape (no torch)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from torchworks.tasks.state import TaskState


class SegmentationState(TaskState):
    """The preprocessing state ``prepare_data`` records for the model's inputs and outputs."""

    labels: list[str] = Field(min_length=2, description="Class names by output channel; index 0 is the "
                              "background where there is one.")
    values: list[int] = Field(description="The mask value of each class in the training data, by output channel.")
    colours: list[list[int]] = Field(description="An RGB colour per class, by output channel (overlays, colour "
                                     "masks).")
    ignore_index: int = Field(ge=0, description="Mask value of pixels that count for nothing.")
    mask_format: str = Field(description="How the training masks stored classes: index, binary or colour.")
    model: str = Field(description="The network (unet or a torchvision segmentation model).")
    architecture: dict[str, Any] = Field(description="The network's constructor options as trained.")
    image_size: int = Field(ge=1, description="Side of the square crops trained on.")
    max_pixels: int = Field(ge=1, description="Images with more pixels than this are refused unread.")
    train_pixels: dict[str, int] = Field(description="Training pixels per class (ignored pixels left out).")
    loss: str = Field("ce_dice", description="The training loss: ce_dice, ce, dice or focal.")
    class_weights: list[float] | None = Field(None, description="Cross-entropy weight per class (class_weights=auto), "
                                              "or None.")
