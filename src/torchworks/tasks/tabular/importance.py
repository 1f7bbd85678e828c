"""Which table columns a trained model relies on: permutation importance (Breiman 2001), measured per column.

A column's importance is how much the score drops when its cells are shuffled across rows, which breaks
the column's link to the target while keeping its distribution. Every feature a column became (a datetime's
time line, month, weekday and hour; a number and its "(missing)" flag) is shuffled with one permutation, so
the column's own features stay consistent with each other and the column is judged as a whole.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from torchworks.attribution.gradients import model_device
from torchworks.attribution.values import rounded
from torchworks.families.tabular.attributions import feature_columns
from torchworks.families.tabular.encoding import Encoded

BATCH_ROWS = 4096
CHART_COLUMNS = 20

Metric = Callable[[np.ndarray, np.ndarray], float]


def accuracy(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Share of rows whose largest logit is their class."""
    return float((outputs.argmax(axis=1) == targets).mean())


def r2(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Coefficient of determination of the first output (scale-free, so standardised targets do)."""
    predicted, actual = outputs[:, 0].astype(np.float64), targets.reshape(-1).astype(np.float64)
    spread = float(((actual - actual.mean()) ** 2).sum())
    return 1.0 - float(((actual - predicted) ** 2).sum()) / spread if spread > 0 else 0.0


def permutation_importance(model: nn.Module, encoded: Encoded, targets: np.ndarray, state: dict[str, Any],
                           metric: Metric | None = None, rows: int = 2000, repeats: int = 3,
                           seed: int = 0) -> list[dict[str, Any]]:
    """The drop of the score when each table column is shuffled, averaged over ``repeats`` shuffles.

    Args:
        model: A tabular model (``{"numeric", "categorical"} -> outputs``); run in eval mode, then left in
            the mode it had.
        encoded: Encoded rows (``numeric`` float32 [n, N], ``categorical`` int64 [n, C]).
        targets: The rows' class indices, or their (standardised) values for a regression.
        state: The task state: its ``encoding`` names each feature's column, its ``task_type`` the score.
        metric: ``(outputs [n, k], targets) -> score``, higher is better; default :func:`accuracy` for a
            classification, :func:`r2` for a regression.
        rows: At most this many rows, drawn at random, are scored.
        repeats: Shuffles per column.
        seed: Seeds the choice of rows and the shuffles.

    Returns:
        ``[{"column", "importance", "std"}]``, most important first; ``std`` is over the repeats.
    """
    score = metric or (accuracy if state["task_type"] == "classification" else r2)
    generator = np.random.default_rng(seed)
    chosen = _sampled(len(encoded), rows, generator)
    numeric, categorical = encoded.numeric[chosen], encoded.categorical[chosen]
    targets = np.asarray(targets)[chosen]
    baseline = score(_outputs(model, numeric, categorical), targets)
    numeric_columns, categorical_columns = feature_columns(state["encoding"])
    drops = {}
    for column in dict.fromkeys(numeric_columns + categorical_columns):  # each column once, in input order
        in_numeric = [i for i, name in enumerate(numeric_columns) if name == column]
        in_categorical = [i for i, name in enumerate(categorical_columns) if name == column]
        drops[column] = [baseline - score(_outputs(model, *_shuffled(numeric, categorical, in_numeric,
                                                                      in_categorical, generator)), targets)
                         for _ in range(repeats)]
    found = [{"column": column, "importance": rounded([np.mean(values)], 6)[0],
              "std": rounded([np.std(values)], 6)[0]} for column, values in drops.items()]
    return sorted(found, key=lambda entry: -entry["importance"])


def _sampled(total: int, rows: int, generator: np.random.Generator) -> np.ndarray:
    if total <= rows:
        return np.arange(total)
    return np.sort(generator.choice(total, size=rows, replace=False))


def _shuffled(numeric: np.ndarray, categorical: np.ndarray, in_numeric: list[int], in_categorical: list[int],
              generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Copies of the inputs with the given features reordered by one shared permutation of the rows."""
    order = generator.permutation(len(numeric))
    numeric, categorical = numeric.copy(), categorical.copy()
    numeric[:, in_numeric] = numeric[order][:, in_numeric]
    categorical[:, in_categorical] = categorical[order][:, in_categorical]
    return numeric, categorical


def _outputs(model: nn.Module, numeric: np.ndarray, categorical: np.ndarray) -> np.ndarray:
    """The model's outputs for the rows, in batches, in eval mode (the mode it had is put back)."""
    device = model_device(model)
    training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            parts = [model({"numeric": torch.from_numpy(numeric[start : start + BATCH_ROWS]).to(device),
                            "categorical": torch.from_numpy(categorical[start : start + BATCH_ROWS]).to(device)})
                     .float().cpu().numpy() for start in range(0, len(numeric), BATCH_ROWS)]
    finally:
        model.train(training)
    return np.concatenate(parts) if parts else np.zeros((0, 1), dtype=np.float32)


def importance_chart(importance: list[dict[str, Any]], title: str, unit: str, limit: int = CHART_COLUMNS):
    """Bars of the ``limit`` most important columns (a list as :func:`permutation_importance` or
    :func:`~torchworks.families.tabular.attributions.global_importance` gives it), as a matplotlib figure."""
    from torchworks.report.plots import bar_chart

    shown = {entry["column"]: float(entry["importance"]) for entry in importance[:limit]}
    hidden = len(importance) - len(shown)
    return bar_chart(shown, title + (f" (top {len(shown)}; {hidden} more columns)" if hidden > 0 else ""), unit,
                     limit=None)
