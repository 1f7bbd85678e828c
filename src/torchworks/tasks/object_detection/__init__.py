"""Object detection: boxes for vehicles, pedestrians, products and defects, read from COCO, YOLO or VOC data.

Only the annotation readers (``layout.read_detection_data``) and the generator of the detection-scenes
sample (``scenes.make_scenes``) live here so far; the task itself is not registered yet.
"""
