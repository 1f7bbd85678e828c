"""Generated images with known ground truth, shared by the image tasks: street scenes (boxes and masks)
and medical-like lesion scans (masks)."""
