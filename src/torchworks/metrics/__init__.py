"""Metrics shared by tasks of the same family (computed with torchmetrics)."""
