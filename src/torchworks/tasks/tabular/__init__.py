"""Tabular prediction: classification and regression over a table's columns, against gradient boosting."""

from torchworks.tasks.tabular import samples, task  # noqa: F401  (registers the task and its samples)
