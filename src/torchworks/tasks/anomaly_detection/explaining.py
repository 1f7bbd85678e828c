"""Which columns made a row odd. ``reconstruction`` (the default, autoencoder only) reads it off the score
itself: the score is a sum of per-feature errors, so each column's share is exact and costs one model call.
``shap``, ``lime`` and ``integrated_gradients`` attribute the score over the row's feature tokens against a
typical row (:mod:`torchworks.families.tabular.attributions`), for either detector."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from torchworks.attribution.explainer import Explainer, Explanation, Presentation, Row, Target, explain_rows
from torchworks.errors import ConfigError
from torchworks.families.tabular.attributions import (
    METHODS,
    RowAttributions,
    attribute_tokens,
    column_presentation,
)
from torchworks.tasks.anomaly_detection.scoring import contributions, scores_of
from torchworks.tasks.anomaly_detection.thresholds import decision_threshold

SCORE = Target(0, "anomaly_score")


def explain_anomalies(model: nn.Module, inputs: dict[str, torch.Tensor], ids: list[Any], state: dict[str, Any],
                      method: str, options: dict[str, str]) -> list[Explanation]:
    """One explanation per row of the batch: the score, whether it is an anomaly, each column's share.

    Raises:
        ConfigError: ``reconstruction`` asked of a detector whose score has no per-feature parts.
    """
    attributors = {name: partial(_attribute, method_of, state=state) for name, method_of in METHODS.items()
                   if name != "gradient_shap"}
    attributors["reconstruction"] = partial(_reconstruction, state=state)
    explainer = Explainer(describe=lambda identifier: {"input": getattr(identifier, "name", str(identifier))},
                          predict=partial(_predict, state=state), resolve_target=lambda text: SCORE,
                          attributors=attributors, present=partial(_present, state=state))
    return explain_rows(explainer, model, inputs, ids, method, None, options)


def _predict(model: nn.Module, row: Row, *, state: dict[str, Any]) -> tuple[dict[str, Any], Target]:
    score = float(scores_of(contributions(model(row.inputs).detach().cpu(), state))[0])
    threshold = decision_threshold(state)[0]
    return {"anomaly_score": round(score, 6), "is_anomaly": score >= threshold, "threshold": round(threshold, 6)}, \
        SCORE


def _reconstruction(model: nn.Module, row: Row, target: Target, options: dict[str, str], *,
                    state: dict[str, Any]) -> tuple[RowAttributions, dict[str, Any]]:
    with torch.no_grad():
        parts = contributions(model(row.inputs).detach().cpu(), state)[0]
    if len(parts) == 1:
        raise ConfigError("method=reconstruction needs per-column errors, which this detector has not",
                          expected="an autoencoder", got=state["architecture"]["model"],
                          hint="method=shap explains any detector")
    return RowAttributions(parts, float(parts.sum()), 0.0), {"reference": "a perfectly rebuilt row (score 0)"}


def _attribute(method: Any, model: nn.Module, row: Row, target: Target, options: dict[str, str], *,
               state: dict[str, Any]) -> tuple[RowAttributions, dict[str, Any]]:
    return attribute_tokens(method, model, row, _score_of_tokens(model, row.inputs, state), options)


def _score_of_tokens(model: nn.Module, inputs: dict[str, torch.Tensor], state: dict[str, Any]
                     ) -> Callable[[torch.Tensor], torch.Tensor]:
    """Tokens ``[n, features, width]`` -> the score of each, the rebuilt row always compared with ``inputs``."""
    scale = state.get("feature_scale") or []

    def score(tokens: torch.Tensor) -> torch.Tensor:
        if hasattr(model, "explaining"):
            with model.explaining(inputs):
                errors = model.head_from_tokens(tokens).float()
        else:
            errors = model.head_from_tokens(tokens).float()
        if errors.shape[1] > 1 and len(scale) == errors.shape[1]:
            errors = errors / torch.as_tensor(np.asarray(scale), dtype=errors.dtype, device=errors.device)
        return errors.sum(dim=1)

    return score


def _present(row: Row, record: dict[str, Any], attributions: RowAttributions, details: dict[str, Any], *,
             state: dict[str, Any]) -> Presentation:
    prediction = record["prediction"]
    said = f"score {prediction['anomaly_score']:.4g} ({'an anomaly' if prediction['is_anomaly'] else 'normal'}: " \
           f"threshold {prediction['threshold']:.4g})"
    base = "a perfectly rebuilt row" if record["method"] == "reconstruction" else "a typical row"
    return column_presentation(row, record, attributions, details, state["encoding"], "anomaly score", said, base)
