"""Image classification's report views: sampled test answers as framed thumbnails (green right, red
wrong) and the most confident mistakes, read back by position only for the images shown."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.colors import to_hex

from torchworks.families.classification import SHOWN_SAMPLES, ClassificationEvaluator
from torchworks.report.plots import RIGHT, WRONG
from torchworks.tasks.image_classification.evaluation import misclassified_grid, prediction_grid


class _Images:
    """A test split that counts which images were read back."""

    def __init__(self, count: int):
        self.count, self.read = count, []

    def raw(self, index: int) -> np.ndarray:
        self.read.append(index)
        return np.full((8, 8), index % 256, dtype=np.uint8)


def test_sampled_predictions_are_framed_by_rightness_and_captioned_with_labels_and_probability():
    images = _Images(120)
    evaluator = ClassificationEvaluator(["cat", "dog"], show_mistakes=misclassified_grid(images),
                                        show_samples=prediction_grid(images))
    for start in range(0, 120, 30):  # says "cat" with p = 0.88 always; every third image is a dog
        targets = torch.tensor([1 if (start + i) % 3 == 0 else 0 for i in range(30)])
        evaluator.update(torch.tensor([[2.0, 0.0]]).repeat(30, 1), targets)
    result = evaluator.compute()
    grid = result.figures["sample_predictions"]
    shown = [ax for ax in grid.axes if ax.images]
    assert len(shown) == SHOWN_SAMPLES
    assert grid.texts[0].get_text().startswith(f"Sample test predictions: {SHOWN_SAMPLES // 2} right (green), "
                                               f"{SHOWN_SAMPLES // 2} wrong (red)")
    for ax in shown:
        index = int(ax.images[0].get_array()[0, 0])
        right = index % 3 != 0
        caption = ax.get_title()
        assert caption == f"true {'cat' if right else 'dog'}\npred cat 0.88"
        assert to_hex(ax.spines["left"].get_edgecolor()) == (RIGHT if right else WRONG)
        assert to_hex(ax.title.get_color()) == (RIGHT if right else WRONG)
    # only the images on show (the sample and the 24 mistakes) were read back, never the whole split
    assert len(images.read) == SHOWN_SAMPLES + 24 and "misclassified" in result.figures
