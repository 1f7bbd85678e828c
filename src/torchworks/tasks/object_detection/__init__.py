"""Object detection: boxes and class labels for the objects in an image."""
