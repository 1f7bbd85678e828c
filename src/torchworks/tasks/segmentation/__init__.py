"""Segmentation: a class for every pixel, from image and mask folders, CSV pairs or COCO polygons to a
served model."""

from torchworks.tasks.segmentation import samples, task  # noqa: F401  (registers the task and its samples)
