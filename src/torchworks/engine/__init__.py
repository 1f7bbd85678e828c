"""Task-agnostic modes: train, evaluate, predict, quickstart. Nothing here names a task."""
