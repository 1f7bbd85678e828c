"""The decision threshold of a binary classifier, chosen on the validation rows: a fixed probability, the
best F1 (``auto``), or a target precision or recall (``precision@0.9``: the lowest threshold whose precision
reaches 0.9, so recall is as high as that precision allows). The validation precision-recall curve is kept
in the bundle, so another target can be chosen at prediction time without retraining."""

from __future__ import annotations

from typing import Any

import numpy as np

from torchworks.errors import ConfigError

CURVE_POINTS = 256


def validation_curve(probabilities: np.ndarray, truth: np.ndarray) -> dict[str, list[float]]:
    """Precision and recall of the positive class at up to ``CURVE_POINTS`` thresholds (every distinct
    probability when there are fewer), ascending."""
    order = np.argsort(-probabilities, kind="stable")
    scores, hits = probabilities[order], truth[order].astype(np.float64)
    true_positives, predicted = np.cumsum(hits), np.arange(1, len(hits) + 1)
    last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # the last row of each distinct score
    thresholds, tp, count = scores[last], true_positives[last], predicted[last]
    if len(thresholds) > CURVE_POINTS:
        keep = np.unique(np.linspace(0, len(thresholds) - 1, CURVE_POINTS).round().astype(int))
        thresholds, tp, count = thresholds[keep], tp[keep], count[keep]
    positives = max(1.0, hits.sum())
    return {"thresholds": [round(float(t), 6) for t in thresholds[::-1]],
            "precision": [round(float(v), 6) for v in (tp / count)[::-1]],
            "recall": [round(float(v), 6) for v in (tp / positives)[::-1]]}


def choose_threshold(setting: str, curve: dict[str, list[float]]) -> tuple[float, dict[str, Any]]:
    """The threshold ``setting`` names, and the validation precision, recall and F1 there.

    Raises:
        ConfigError: A target precision the validation rows never reach.
    """
    thresholds, precision, recall = (np.asarray(curve[key]) for key in ("thresholds", "precision", "recall"))
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    if setting == "auto":
        index = int(np.argmax(f1))
    elif setting.startswith("precision@"):
        goal = float(setting.split("@")[1])
        reaching = np.flatnonzero(precision >= goal)
        if not len(reaching):
            raise ConfigError(f"no threshold reaches precision {goal:g} on the validation rows",
                              expected=f"a precision up to {precision.max():.3f}", got=setting,
                              hint=f"threshold=precision@{np.floor(precision.max() * 100) / 100:g} or threshold=auto")
        index = int(reaching[0])  # the lowest threshold: the most recall at that precision
    elif setting.startswith("recall@"):
        goal = float(setting.split("@")[1])
        index = int(np.flatnonzero(recall >= goal)[-1]) if (recall >= goal).any() else 0
    else:
        value = float(setting)
        at = int(np.clip(np.searchsorted(thresholds, value), 0, len(thresholds) - 1)) if len(thresholds) else 0
        facts = {"setting": setting, "precision": _at(precision, at), "recall": _at(recall, at), "f1": _at(f1, at)}
        return value, facts
    return float(thresholds[index]), {"setting": setting, "precision": _at(precision, index),
                                      "recall": _at(recall, index), "f1": _at(f1, index)}


def _at(values: np.ndarray, index: int) -> float | None:
    return round(float(values[index]), 4) if len(values) else None


def decision_threshold(state: dict[str, Any]) -> float:
    """The threshold in force: the stored choice, or one chosen now from the stored validation curve when a
    prediction asks for another setting."""
    setting = state.get("threshold", "0.5")
    choice = state.get("threshold_choice") or {}
    if setting == choice.get("setting") and state.get("decision_threshold") is not None:
        return float(state["decision_threshold"])
    if setting.replace(".", "", 1).isdigit():
        return float(setting)
    if "curve" not in choice:
        raise ConfigError(f"threshold={setting} needs the validation curve, which this bundle lacks",
                          expected="a number", got=setting, hint="give a probability, for example threshold=0.3")
    return choose_threshold(setting, choice["curve"])[0]
