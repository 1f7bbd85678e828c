"""Prediction records: a batch's dense outputs reduced to its boxes give the same records, in far less memory."""

from __future__ import annotations

import torch

from torchworks.tasks.object_detection.models import build_detector
from torchworks.tasks.object_detection.predicting import ImageItem, box_records, kept_boxes


def test_kept_boxes_give_the_records_the_dense_outputs_give():
    torch.manual_seed(0)
    model = build_detector("compact", 3, 128, pretrained=False).eval()
    with torch.no_grad():
        dense = model(torch.rand(3, 3, 128, 128))
    items = [ImageItem(f"{i}.png", None, 96, 128) for i in range(3)]  # type: ignore[arg-type]
    for options in ({"conf": 0.05}, {"conf": 0.3, "classes": "b"}, {"conf": 0.3, "track": True}):
        state = {"image_size": 128, "labels": ["a", "b", "c"], **options}
        kept = kept_boxes(dense, state)
        assert box_records(kept, items, state) == box_records(dense, items, state)
    state = {"image_size": 128, "labels": ["a", "b", "c"], "conf": 0.05}
    kept = kept_boxes(dense, {**state, "max_det": 10})
    assert kept["boxes"].shape == (3, 10, 4), "at most max_det boxes an image: 60 numbers, not the dense maps"
