"""Text classification: support tickets, sentiment, intents; from-scratch and pretrained encoders."""
