"""The shape of one segmentation prediction record, for the server's schema (pydantic, no torch)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RunLength(BaseModel):
    """A binary mask in COCO's compressed run-length encoding (``pycocotools.mask.decode`` reads it)."""

    size: list[int] = Field(description="[height, width] in pixels.")
    counts: str = Field(description="The compressed runs, column-major, as COCO writes them.")


class MaskRecord(BaseModel):
    """The classes of one image's pixels."""

    input: str = Field(description="The image's name.")
    width: int = Field(description="Image width in pixels.")
    height: int = Field(description="Image height in pixels.")
    pixels: dict[str, int] = Field(description="Pixels of each class present.")
    share: dict[str, float] = Field(description="Share of the image of each class present.")
    mean_confidence: float = Field(description="Mean probability of the winning class over the image.")
    masks: dict[str, RunLength] = Field(description="One run-length mask per class present.")
    mask_png: str | None = Field(None, description="Only when the request includes mask_png: the class map as a "
                                 "base64 PNG whose pixel values are class indices (by the model's labels), with a "
                                 "palette in the class colours.")
