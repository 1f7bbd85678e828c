"""Code a family of tasks shares (classification-shaped tasks...), between the tasks and the shared
pieces: a task imports its family; a family imports shared pieces only, never a task."""
