"""Text classification: support tickets, sentiment, intents; from-scratch and pretrained encoders."""

from torchworks.tasks.text_classification.task import TextClassification

__all__ = ["TextClassification"]
