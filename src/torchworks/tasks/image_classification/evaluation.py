"""How image classification shows test answers: its worst mistakes and a random sample of right and
wrong answers, as grids of the test images (the metrics and the other figures come from the
classification family). Images are read back by position (``dataset.raw(index)``) only for the few
shown, so the evaluation never holds the test inputs."""

from __future__ import annotations

from typing import Any

from torchworks.families.classification import Prediction, PredictionView


def misclassified_grid(dataset: Any) -> PredictionView:
    """A view of mistakes as a grid of the test images with their captions, most confident first."""

    def show(mistakes: list[Prediction]) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
        from torchworks.report.plots import image_grid

        images = [dataset.raw(mistake.index) for mistake in mistakes]
        captions = [f"{m.actual} -> {m.predicted} {m.confidence:.2f}" for m in mistakes]
        grid = image_grid(images, captions, "Misclassified test images, most confident first (actual -> predicted p)")
        return {"misclassified": grid}, {}

    return show


def prediction_grid(dataset: Any) -> PredictionView:
    """A view of sampled answers as thumbnails framed green (right) or red (wrong), captioned with
    the true label, the predicted one and its probability."""

    def show(samples: list[Prediction]) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
        from torchworks.report.plots import image_grid

        images = [dataset.raw(sample.index) for sample in samples]
        captions = [f"true {s.actual}\npred {s.predicted} {s.confidence:.2f}" for s in samples]
        right = sum(s.correct for s in samples)
        title = (f"Sample test predictions: {right} right (green), {len(samples) - right} wrong (red), "
                 "drawn at random")
        return {"sample_predictions": image_grid(images, captions, title, correct=[s.correct for s in samples])}, {}

    return show
