"""The typed prediction record of a detector, for the server's OpenAPI schema and response checks."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Box(BaseModel):
    """One detected object."""

    xyxy: list[float] = Field(description="Left, top, right, bottom in the input image's pixels.")
    label: str
    score: float
    track_id: int | None = Field(None, description="The object's id across a video's frames (track=true).")


class DetectionRecord(BaseModel):
    """A detector's answer for one image (or one video frame)."""

    model_config = ConfigDict(extra="forbid")

    input: str
    width: int
    height: int
    count: int
    boxes: list[Box]
    frame: int | None = None
    time: float | None = None
