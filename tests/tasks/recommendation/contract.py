"""How the contract suite runs recommendation on tiny data: a generated log of 60 users and 80 items."""

from __future__ import annotations

from pathlib import Path

TASK = "recommendation"
SETTINGS = {"factors": 8, "negatives": 32, "batch_size": 256}
QUICKSTART = {"epochs": 1, "factors": 8, "baselines": False}


def make_data(request, scratch: Path) -> Path:
    from torchworks.tasks.recommendation.generator import make_interactions

    return make_interactions(scratch / "shop", n_users=60, n_items=80, n_interactions=2400, progress=False)


def predict_inputs(data: Path) -> list:
    return [{"user": "1"}, {"items": "1,2,3"}, {"similar": "5"}]
