"""How a segmentation model is served: images in, records with RLE masks out, drawn as a mask over the image
on the page, and on request the class map as a PNG (``include=mask_png``). Light: no torch until a PNG is made."""

from __future__ import annotations

import base64
import io
from typing import Any

from torchworks.tasks.protocol import ServingSpec

MASK_PNG = "mask_png"


def segmentation_serving(state: dict[str, Any], file_types: tuple[str, ...]) -> ServingSpec:
    """The serving description of a model with ``state``, taking images with ``file_types``."""
    from torchworks.tasks.segmentation.records import MaskRecord

    return ServingSpec(input_kind="image", file_types=file_types, json_item=None, record=MaskRecord, draws="mask",
                       colours=tuple(tuple(int(c) for c in colour) for colour in state["colours"]),
                       extras={MASK_PNG: mask_png})


def mask_png(record: dict[str, Any], state: dict[str, Any]) -> str:
    """A record's class map as a base64 PNG: each pixel's value is its class's index in ``state["labels"]``,
    a palette PNG shown in the class colours (16-bit greyscale for more than 256 classes)."""
    import numpy as np
    from PIL import Image

    from torchworks.tasks.segmentation.mask_files import palette_picture
    from torchworks.tasks.segmentation.predicting import class_map_of

    labels = state["labels"]
    classes = class_map_of(record, labels)
    if len(labels) <= 256:
        picture = palette_picture(classes.astype(np.uint8), range(len(labels)), state["colours"])
    else:
        picture = Image.fromarray(classes.astype(np.uint16))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
