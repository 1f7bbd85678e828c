"""Image classification: medical and industrial images (the pneumonia X-ray case study)."""

from torchworks.tasks.image_classification import samples  # noqa: F401  (registers the task's sample datasets)
from torchworks.tasks.image_classification.task import ImageClassification

__all__ = ["ImageClassification"]
