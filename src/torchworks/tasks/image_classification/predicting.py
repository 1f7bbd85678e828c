"""What to predict on: image files, folders of them, CSVs of image paths, uploads, PIL images and
numpy arrays. Images are decoded lazily, one at a time as batches are made: memory stays at a batch
whatever the number of files, and an unreadable image raises DataError naming it from the dataset,
so predict can write an error row for it and go on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image

from torchworks.bad_inputs import pass_over
from torchworks.errors import DataError
from torchworks.image_inputs import Source, expand_input, input_name
from torchworks.tasks.image_classification.data import eval_transform
from torchworks.tasks.image_classification.decoding import (
    IMAGE_SUFFIXES,
    BadImage,
    decode_image,
    resize_short_side,
)


class ImageInputs(torch.utils.data.Dataset):
    """Images to predict on, decoded when an item is asked for; a bad one raises DataError."""

    def __init__(self, sources: list[Source], names: list[str], state: dict[str, Any]):
        self.sources = sources
        self.names = names
        self.state = state
        self.transform = eval_transform(state)

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, index: int) -> torch.Tensor:
        try:
            image = decode_image(self.sources[index], self.state["max_pixels"])
        except BadImage as problem:
            raise DataError(f"cannot read image '{self.names[index]}'", expected="a readable image file",
                            got=str(problem), hint="fix or remove that file") from None
        pixels = resize_short_side(image.pixels, self.state["short_side"])
        return self.transform(Image.fromarray(pixels).convert(self.state["color_mode"]))


def image_inputs(inputs: Sequence[Any], state: dict[str, Any]) -> tuple[ImageInputs, list[str]]:
    """The images of ``inputs`` (nothing decoded yet) and one name per image."""
    sources: list[Source] = []
    names: list[str] = []
    for item in inputs:
        try:
            found = expand_input(item, IMAGE_SUFFIXES)
        except DataError as error:
            pass_over(input_name(item), error, len(names))
            continue
        for source, name in found:
            sources.append(source)
            names.append(name)
    if not names:
        raise DataError("nothing to predict", expected="image files, folders of images or a CSV of paths",
                        got="no images in the inputs given")
    return ImageInputs(sources, names, state), names
