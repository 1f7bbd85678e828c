"""Code shared by a family of tasks (classification-shaped tasks...), below the tasks and above the
shared pieces: a task imports its family; a family never imports a task."""
