"""Anomaly detection over tables: rows scored for how unusual they are, judged against known anomalies."""

from torchworks.tasks.anomaly_detection import samples, task  # noqa: F401  (registers the task and its samples)
