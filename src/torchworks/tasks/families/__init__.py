"""Code a family of tasks shares (classification-shaped tasks...): a task imports its family, and a
family imports the task interface and shared pieces, never a task."""
