"""Recommendation: user-item interactions to served top-N lists, evaluated by full ranking against strong
baselines."""

from torchworks.tasks.recommendation import samples, task  # noqa: F401  (registers the task and its samples)
