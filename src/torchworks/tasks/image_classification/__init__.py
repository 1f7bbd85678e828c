"""Image classification: medical and industrial images (the pneumonia X-ray case study)."""

from torchworks.tasks.image_classification.task import ImageClassification

__all__ = ["ImageClassification"]
