"""The detector's pictures: the test scores' distribution with the threshold (by label when there are
labels), and its average precision and AUROC beside the classical detectors'."""

from __future__ import annotations

from typing import Any

import numpy as np


def score_histogram(scores: np.ndarray, labels: np.ndarray, threshold: float):
    """Histogram of the scores on a log axis, normal and anomalous rows apart when labelled, the cut drawn."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 3.6))
    axes = figure.subplots()
    low = max(float(np.quantile(scores, 0.001)), 1e-6)
    bins = np.geomspace(low, max(float(scores.max()), low * 10), 60)
    clipped = np.clip(scores, low, None)
    if (labels >= 0).any():
        for value, name, colour in ((0, "normal", "#4c72b0"), (1, "anomaly", "#c44e52")):
            count = int((labels == value).sum())
            axes.hist(clipped[labels == value], bins=bins, alpha=0.7, label=f"{name} ({count:,})", color=colour)
    else:
        axes.hist(clipped, bins=bins, color="#4c72b0", label=f"test rows ({len(scores):,})")
    axes.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3g} "
                 f"({(scores >= threshold).mean():.2%} flagged)")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("anomaly score (higher is more anomalous)")
    axes.set_ylabel("rows")
    axes.set_title("Anomaly scores (test)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


def detector_comparison(metrics: dict[str, Any], baselines: dict[str, dict[str, Any]]):
    """Average precision and AUROC of the model and each baseline, side by side."""
    from torchworks.report.plots import bar_chart

    values = {"this model": metrics["average_precision"]}
    values.update({name: result.get("average_precision") for name, result in baselines.items()
                   if result.get("average_precision") is not None})
    return bar_chart(values, "Average precision against the labels (test)", "average precision")
