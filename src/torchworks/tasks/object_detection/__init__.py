"""Object detection: boxes for vehicles, pedestrians, products and defects, read from COCO, YOLO or VOC data.

Only the annotation readers live here so far (``layout.read_detection_data``); the task itself is not
registered yet.
"""
