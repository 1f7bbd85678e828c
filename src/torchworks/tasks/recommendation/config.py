"""Settings of the recommendation task (on top of the engine's :class:`TrainConfig`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from torchworks.config.schema import TrainConfig

MODEL_NAMES = ("mf", "neumf", "two_tower", "sequential")


class RecommendationConfig(TrainConfig):
    """Recommendation settings: the interaction columns, the split that cannot leak, the model and its
    loss, and what a top-N list may hold."""

    setting_groups: ClassVar[dict[str, tuple[str, ...]]] = {  # sections of `torchworks settings`
        "data": ("user", "item", "rating", "weight", "time", "item_features", "feedback", "rating_scale",
                 "duplicates", "split", "min_interactions", "history_length"),
        "model": ("model", "factors", "mlp_layers", "layers", "dropout", "id_dropout", "item_text", "item_index"),
        "training": ("loss", "negatives", "l2", "recency"),
        "prediction": ("k", "exclude_seen", "include", "exclude", "categories"),
    }

    user: str | None = Field(None, description="User column; found by name (user, user_id, customer_id, ...) "
                             "when unset.")
    item: str | None = Field(None, description="Item column; found by name (item, item_id, movieId, sku, ...) "
                             "when unset.")
    rating: str | None = Field(None, description="Rating column (explicit feedback); found by name when unset.")
    weight: str | None = Field(None, description="Count or weight column (implicit feedback); found by name "
                               "(count, quantity, plays, ...) when unset.")
    time: str | None = Field(None, description="Timestamp column (seconds or dates); found by name when unset.")
    item_features: str | None = Field(None, description="A table of items (id, title, genres or categories, "
                                      "other columns) for titles, filters and explanations; two_tower also "
                                      "learns from its genres, numbers and text, and can recommend the items it "
                                      "lists that no interaction names.")
    feedback: Literal["implicit", "explicit"] = Field(
        "implicit", description="implicit: every interaction is a positive, ranked against all other items; "
                                "explicit: the rating is predicted (RMSE/MAE reported beside the ranking).")
    rating_scale: str | None = Field(None, description="Ratings must lie in this range, as low,high (1,5); a "
                                     "MovieLens layout declares its own.")
    duplicates: Literal["last", "first", "fail"] = Field(
        "last", description="Rows repeating a (user, item, time): keep the last or first (counted), or fail.")
    split: Literal["auto", "last", "time", "random"] = Field(
        "auto", description="last: each user's last interaction is test, the one before validation (auto, when "
                            "there are times); time: one global time cut; random: a random share per user.")
    min_interactions: int = Field(3, ge=1, le=10_000, description="Users with fewer interactions are left out "
                                  "(counted): the split needs one to train on, one to validate, one to test.")
    model: str = Field("mf", description="mf: dot product of user and item embeddings with biases; neumf: GMF "
                       "and an MLP over the two embeddings (the NCF paper's model, for comparison); two_tower: mf "
                       "whose items also read their genres, numbers and text (so items never trained on can be "
                       "recommended); sequential: a GRU over the user's recent items (the next item, for drifting "
                       "tastes and sessions).")
    history_length: int = Field(50, ge=1, le=10_000, description="sequential: the most recent items of a user it "
                                "reads.")
    factors: int = Field(64, ge=2, le=4096, description="Embedding size.")
    mlp_layers: int = Field(2, ge=1, le=8, description="neumf: hidden layers of the MLP (halving in width).")
    layers: int = Field(1, ge=1, le=8, description="sequential: GRU layers.")
    dropout: float = Field(0.0, ge=0, lt=1, description="neumf: dropout in the MLP; sequential: on the items read.")
    id_dropout: float = Field(0.25, ge=0, lt=1, description="two_tower: share of training items whose id "
                              "embedding is hidden in a batch, so that their features alone must place them (all a "
                              "cold item has).")
    item_text: bool = Field(True, description="two_tower: encode item titles and text columns with the bundled "
                            "MiniLM sentence encoder.")
    item_index: Literal["auto", "hnsw", "flat", "none"] = Field(
        "auto", description="A nearest-neighbour index of the item vectors kept in the bundle, from which predict "
                            "and serve take lists instead of scoring every item: hnsw (approximate, fast), flat "
                            "(exact), none; auto: hnsw from 100,000 items (needs faiss, the recommendation extra).")
    loss: Literal["auto", "softmax", "bpr", "mse"] = Field(
        "auto", description="auto: softmax for implicit feedback, mse for explicit. softmax: sampled softmax "
                            "over popularity-corrected negatives; bpr: pairwise against sampled negatives.")
    negatives: int = Field(2000, ge=1, le=100_000, description="Negatives drawn for each batch (softmax, bpr); "
                           "a softmax over a catalogue no larger than this is exact.")
    l2: float = Field(0.03, ge=0, le=10.0, description="L2 penalty on the embeddings a batch uses (per example).")
    recency: float = Field(0.0, ge=0, le=1_000_000, description="Implicit feedback: a training interaction weighs "
                           "half as much for every this many of the user's later interactions (tastes drift; a "
                           "list should follow the latest); 0 weighs all alike.")
    k: int = Field(10, ge=1, le=1_000_000, description="Prediction: items per list (capped at the catalogue).")
    exclude_seen: bool = Field(True, description="Prediction: leave out items the user already interacted with.")
    include: list[str] = Field(default_factory=list, description="Prediction: recommend only among these item "
                               "ids (comma-separated).")
    exclude: list[str] = Field(default_factory=list, description="Prediction: never recommend these item ids.")
    categories: list[str] = Field(default_factory=list, description="Prediction: recommend only items of one of "
                                  "these genres or categories.")
    batch_size: int = Field(1024, ge=1, le=65_536, description="Interactions per optimisation step.")
    epochs: int = Field(20, ge=1, le=100_000, description="Maximum number of training epochs.")
    lr: float = Field(5e-3, gt=0, le=10.0, description="Peak learning rate.")
    weight_decay: float = Field(0.0, ge=0, le=1.0, description="AdamW weight decay (the embeddings' penalty is "
                                "l2).")

    @field_validator("model")
    @classmethod
    def _model_name(cls, value: str) -> str:
        return value.strip().lower().replace("-", "_")

    @field_validator("include", "exclude", "categories", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("rating_scale")
    @classmethod
    def _scale(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = [part.strip() for part in str(value).replace("-", ",").split(",") if part.strip()]
        try:
            low, high = (float(part) for part in parts)
        except ValueError:
            raise ValueError(f"rating_scale must be low,high (for example 1,5), got {value!r}") from None
        if not low < high:
            raise ValueError(f"rating_scale needs low < high, got {value!r}")
        return f"{low:g},{high:g}"


def scale_of(config: RecommendationConfig) -> tuple[float, float] | None:
    """The declared rating scale as numbers, or None."""
    if config.rating_scale is None:
        return None
    low, high = config.rating_scale.split(",")
    return float(low), float(high)
