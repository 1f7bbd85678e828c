"""What an image-classification bundle keeps: labels, input sizes and normalisation (no torch here)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from torchworks.tasks.state import TaskState


class ImageClassificationState(TaskState):
    """The preprocessing state ``prepare_data`` fits on the training split."""

    labels: list[str] = Field(min_length=2, description="Class names, in the order of the model's outputs.")
    image_size: int = Field(ge=1, description="Side of the square model input, in pixels.")
    short_side: int = Field(ge=1, description="Images are resized to this short side before the centre crop.")
    color_mode: Literal["L", "RGB"] = Field(description="PIL mode images are converted to: L (gray) or RGB.")
    channels: Literal[1, 3] = Field(description="Input channels of the model: 1 for L, 3 for RGB.")
    mean: list[float] = Field(min_length=1, description="Per-channel mean used to normalise pixels (0-1 scale).")
    std: list[float] = Field(min_length=1, description="Per-channel standard deviation used to normalise pixels.")
    max_pixels: int = Field(ge=1, description="Images with more pixels than this are refused as bad files.")
    baseline_size: int = Field(ge=1, description="Side of the thumbnails the classical baseline was fitted on.")
    train_class_counts: dict[str, int] = Field(description="Training images per class.")
    class_weights: list[float] | None = Field(description="Loss weight per class (class_weights=auto), or None.")
