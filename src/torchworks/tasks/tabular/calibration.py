"""What is read off a trained tabular model before its test evaluation: the decision threshold of a binary
classifier (on the validation rows) and each column's permutation importance (on the validation rows)."""

from __future__ import annotations

from typing import Any

import torch

from torchworks.families.tabular.rows import model_outputs
from torchworks.tasks.tabular.data import TabularData
from torchworks.tasks.tabular.thresholds import choose_threshold, validation_curve


def calibrate_tabular(model: torch.nn.Module, data: TabularData, config: Any) -> None:
    """Record the decision threshold and the permutation importance in ``data.state``."""
    state = data.state
    if len(data.targets["val"]) == 0:
        return
    if state["task_type"] == "classification" and len(state["labels"]) == 2:
        positive = state["labels"].index(state["positive"])
        probabilities = model_outputs(model, data.val).softmax(dim=1)[:, positive].numpy()
        curve = validation_curve(probabilities, data.targets["val"] == positive)
        threshold, facts = choose_threshold(state["threshold"], curve)
        state["decision_threshold"] = round(threshold, 6)
        state["threshold_choice"] = {**facts, "curve": curve}
        if state["threshold"] != "0.5":
            from torchworks.console import say

            say(f"decision threshold {threshold:.4f} ({state['threshold']}): validation precision "
                f"{facts['precision']}, recall {facts['recall']}")
    from torchworks.tasks.tabular.importance import permutation_importance

    state["importance"] = permutation_importance(model, data.encoded["val"], data.targets["val"], state,
                                                 seed=config.seed)
