"""What an object-detection bundle keeps: class names, input size and the detector's name (no torch here)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from torchworks.tasks.state import TaskState


class ObjectDetectionState(TaskState):
    """The preprocessing state ``prepare_data`` records for the model's inputs and outputs."""

    labels: list[str] = Field(min_length=1, description="Class names, in the order of the model's labels.")
    image_size: int = Field(ge=1, description="Side of the square (letterboxed) model input, in pixels.")
    model: str = Field(description="The detector's architecture (compact or a torchvision detector name).")
    architecture: dict[str, Any] | None = Field(None, description="The detector's constructor options as trained "
                                                "(the compact detector's size and losses); absent in bundles made "
                                                "before it was recorded, which hold the first compact design.")
    max_pixels: int = Field(ge=1, description="Images with more pixels than this are refused unread.")
    data_format: str = Field(description="The annotation format the training data came in (COCO, YOLO, VOC).")
    train_boxes: dict[str, int] = Field(description="Training boxes per class.")
