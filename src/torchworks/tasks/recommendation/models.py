"""The recommenders by name, built from the state a bundle records."""

from __future__ import annotations

from typing import Any

from torch import nn

from torchworks.errors import ConfigError
from torchworks.tasks.recommendation.config import MODEL_NAMES, RecommendationConfig

# the inputs of each model: a user index, and the user's recent items (to fold a new user in, or to read)
MODEL_INPUTS = {"mf": ("user", "history"), "neumf": ("user",), "two_tower": ("user", "history"),
                "sequential": ("history",)}
TOWER_WIDTH = 128  # two_tower: the hidden layer of the item tower


def check_model(name: str) -> None:
    """Refuse an unknown model name before any data is read."""
    if name not in MODEL_NAMES:
        from torchworks.errors import did_you_mean

        raise ConfigError(f"unknown recommendation model '{name}'", expected="one of " + ", ".join(MODEL_NAMES),
                          got=name, hint=did_you_mean(name, MODEL_NAMES))


def check_item_index(config: RecommendationConfig) -> None:
    """Refuse an item index the model cannot have (neumf scores items with an MLP, not a dot product), or one
    asked for without faiss."""
    if config.item_index in ("auto", "none"):
        return
    if config.model == "neumf":
        raise ConfigError(f"model=neumf cannot have an item index (item_index={config.item_index})",
                          expected="a dot-product model (mf, two_tower, sequential) for an index",
                          got="neumf, which scores every item with an MLP",
                          hint="leave item_index out, or train model=mf")
    from torchworks.tasks.recommendation.retrieval import faiss_installed

    if not faiss_installed():
        from torchworks.tasks.recommendation.neighbours import INSTALL_HINT

        raise ConfigError(f"item_index={config.item_index} needs the package faiss", expected="faiss-cpu installed",
                          got="no faiss", hint=INSTALL_HINT + ", or item_index=none")


def architecture(config: RecommendationConfig) -> dict[str, Any]:
    """The constructor options of ``config.model`` worth recording."""
    if config.model == "neumf":
        return {"factors": config.factors, "mlp_layers": config.mlp_layers, "dropout": config.dropout}
    if config.model == "sequential":
        return {"factors": config.factors, "layers": config.layers, "dropout": config.dropout}
    if config.model == "two_tower":  # the feature widths are added once the features are made
        return {"factors": config.factors, "hidden": TOWER_WIDTH, "id_dropout": config.id_dropout}
    return {"factors": config.factors}


def build_recommender(state: dict[str, Any]) -> nn.Module:
    """The network ``state`` describes."""
    from torchworks.tasks.recommendation.embeddings import MatrixFactorization
    from torchworks.tasks.recommendation.neumf import NeuMF
    from torchworks.tasks.recommendation.sequential import SequentialRecommender
    from torchworks.tasks.recommendation.two_tower import TwoTower

    sizes = {"n_users": len(state["users"]), "n_items": len(state["items"]),
             "mean_rating": state["mean_rating"] or 0.0, "trained": [count > 0 for count in state["popularity"]]}
    if state["model"] == "neumf":
        return NeuMF(**sizes, **state["architecture"])
    if state["model"] == "sequential":
        return SequentialRecommender(**sizes, **state["architecture"])
    if state["model"] == "two_tower":
        return TwoTower(**sizes, **state["architecture"])
    return MatrixFactorization(**sizes, **state["architecture"])
