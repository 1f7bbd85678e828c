"""The test-set evaluator: the same scores as one confusion matrix over all pixels, the worst images found,
and figures drawn from the test images."""

from __future__ import annotations

import pytest
import torch

from torchworks.tasks.segmentation.evaluation import SegmentationEvaluator, image_miou
from torchworks.tasks.segmentation.metrics import PixelConfusion

LABELS = ["background", "lesion"]
COLOURS = [[0, 0, 0], [255, 0, 0]]


class _Pairs:
    def __init__(self, masks):
        self.masks = masks
        self.names = [f"scan{i}.png" for i in range(len(masks))]

    def __len__(self):
        return len(self.masks)

    def __getitem__(self, index):
        mask = self.masks[index]
        return torch.rand(3, *mask.shape), mask


def test_streaming_scores_worst_images_and_figures():
    masks = [torch.zeros(8, 8, dtype=torch.long) for _ in range(4)]
    for i, mask in enumerate(masks):
        mask[2:6, 2:2 + i + 1] = 1
    predicted = [mask.clone() for mask in masks]
    predicted[2][:] = 0  # image 2: the lesion missed entirely
    evaluator = SegmentationEvaluator(LABELS, 255, COLOURS, _Pairs(masks))
    reference = PixelConfusion(LABELS, 255)
    for start in (0, 2):  # two batches
        logits = torch.nn.functional.one_hot(torch.stack(predicted[start:start + 2]), 2).permute(0, 3, 1, 2).float()
        target = torch.stack(masks[start:start + 2])
        evaluator.update(logits, target)
        reference.update(logits, target)
    result = evaluator.compute()
    assert result.metrics["miou"] == pytest.approx(reference.compute()["miou"])
    worst = result.tables["Test images with the lowest mIoU"]
    assert worst[0]["image"] == "scan2.png" and worst[-1]["mIoU"] == 1.0
    assert {"iou_per_class", "confusion_matrix", "test_images", "worst_images"} <= set(result.figures)


def test_image_miou_ignores_ignored_pixels_and_none_when_nothing_counts():
    target = torch.tensor([[0, 1, 255]])
    assert image_miou(torch.tensor([[0, 1, 0]]), target, 2, 255) == 1.0
    assert image_miou(torch.tensor([[0]]), torch.tensor([[255]]), 2, 255) is None
