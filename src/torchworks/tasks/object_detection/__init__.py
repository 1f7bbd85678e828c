"""Object detection: boxes for vehicles, pedestrians, products and defects, from COCO, YOLO or VOC data
to a served model."""

from torchworks.tasks.object_detection import samples, task  # noqa: F401  (registers the task and its sample)
