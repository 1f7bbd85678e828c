"""What a recommendation bundle keeps: the id maps, the catalogue's titles and genres, popularity and the
model's shape, and each user's items (to leave seen items out and to explain) (no torch)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from torchworks.tasks.state import TaskState


class RecommendationState(TaskState):
    """The preprocessing state ``prepare_data`` records for the model's inputs and outputs."""

    file_fields: ClassVar[tuple[str, ...]] = ("users", "items", "titles", "genres", "popularity", "histories",
                                              "untrained_users")

    users: list[str] = Field(min_length=1, description="User ids by index (index 0 onwards).")
    items: list[str] = Field(min_length=2, description="Item ids by index: the model scores each.")
    titles: list[str] = Field(description="A title per item, by index (the id when unknown).")
    genres: list[list[str]] = Field(description="The genres or categories of each item, by index.")
    popularity: list[int] = Field(description="Training interactions per item, by index.")
    histories: list[list[int]] = Field(description="Each user's distinct items (indices), most recent last.")
    untrained_users: list[int] = Field(default_factory=list, description="Users (indices) no training interaction "
                                       "names (after a time cut): the model folds them in from their history, as "
                                       "someone new.")
    feedback: str = Field(description="implicit or explicit.")
    rating_scale: list[float] | None = Field(None, description="The ratings' [low, high], or None.")
    mean_rating: float | None = Field(None, description="The training ratings' mean (explicit feedback).")
    model: str = Field(description="The network: mf, neumf or sequential.")
    history_length: int = Field(50, ge=1, description="The most recent items of a user the model reads.")
    architecture: dict[str, Any] = Field(description="The network's constructor options as trained.")
    loss: str = Field(description="The training loss: softmax, bpr or mse.")
    negatives: int = Field(ge=1, description="Negatives sampled per batch (softmax) or positive (bpr).")
    l2: float = Field(ge=0, description="L2 penalty on the embeddings a batch uses.")
    recency: float = Field(0.0, ge=0, description="Half-life of a training interaction's weight, in the user's "
                           "later interactions (0: none).")
    k: int = Field(ge=1, description="Items per list unless a prediction asks for another k.")
    exclude_seen: bool = Field(description="Whether lists leave out what the user has seen, unless asked otherwise.")
    include: list[str] = Field(description="Item ids lists are restricted to (empty: all), unless asked otherwise.")
    exclude: list[str] = Field(description="Item ids lists never hold, unless asked otherwise.")
    categories: list[str] = Field(description="Genres lists are restricted to (empty: all), unless asked otherwise.")
    item_index: dict[str, Any] | None = Field(None, description="The bundle's item index (item_index.faiss): its "
                                              "kind, items, build time and recall@10 against exact search; None "
                                              "when lists score every item.")
