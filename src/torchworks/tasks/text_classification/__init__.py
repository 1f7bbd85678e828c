"""Text classification: support tickets, sentiment, intents; from-scratch and pretrained encoders."""

from torchworks.tasks.text_classification import samples  # noqa: F401  (registers the task's sample datasets)
from torchworks.tasks.text_classification.task import TextClassification

__all__ = ["TextClassification"]
