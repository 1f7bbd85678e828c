"""How image classification shows its mistakes: the test images it got wrong, most confident first
(the metrics and the other figures come from the classification family)."""

from __future__ import annotations

from typing import Any

from torchworks.families.classification import Mistake, MistakeView


def misclassified_grid(dataset: Any) -> MistakeView:
    """A view of mistakes as a grid of the test images (``dataset.raw(index)``) with their captions."""

    def show(mistakes: list[Mistake]) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
        from torchworks.report.plots import image_grid

        images = [dataset.raw(mistake.index) for mistake in mistakes]
        captions = [f"{m.actual} -> {m.predicted} {m.confidence:.2f}" for m in mistakes]
        grid = image_grid(images, captions, "Misclassified test images, most confident first (actual -> predicted p)")
        return {"misclassified": grid}, {}

    return show
