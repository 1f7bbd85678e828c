"""How a recommender is served: a query in (a user, a few items, or an item to find others like),
a top-N list out, each item with its title and genres; the page offers the model's users and titles
to pick from. Light: pydantic only."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from torchworks.tasks.protocol import ServingSpec

OPTIONS = ("k", "exclude_seen", "include", "exclude", "categories")
PICKABLE = 2000  # users and items the page offers to pick from (the most active and the most popular)


class RecommendationQuery(BaseModel):
    """One list to make: for a known user, for a new user from items they chose, or items like one item."""

    model_config = ConfigDict(extra="forbid")

    user: str | int | None = Field(None, max_length=200, description="A user id of the training data.")
    items: list[str] | str | None = Field(None, description="Item ids a new user chose (a list, or comma-separated).")
    similar: str | int | None = Field(None, max_length=200, description="An item id: items like it.")
    item: str | int | None = Field(None, max_length=200, description="For explanations: the item to explain.")


class RecommendedItem(BaseModel):
    rank: int
    item: str
    title: str
    genres: list[str]
    score: float


class RecommendationRecord(BaseModel):
    """One top-N list."""

    input: str
    user: str | None = None
    known_user: bool = False
    fallback: str | None = None
    notes: list[str] = Field(default_factory=list)
    recommendations: list[RecommendedItem] = Field(default_factory=list)


def recommendation_serving(state: dict[str, Any]) -> ServingSpec:
    """The serving description of a model with ``state``."""
    popular = sorted(range(len(state["items"])), key=lambda item: -state["popularity"][item])[:PICKABLE]
    active = sorted(range(len(state["users"])), key=lambda user: -len(state["histories"][user]))[:PICKABLE]
    return ServingSpec(input_kind="query", file_types=(), json_item=RecommendationQuery, record=RecommendationRecord,
                       example={"user": state["users"][active[0]]}, options=OPTIONS,
                       choices={"user": [[state["users"][user], f"{len(state['histories'][user])} items"]
                                         for user in active],
                                "items": [[state["items"][item], state["titles"][item]] for item in popular]},
                       draws="list")


def query_from_json(item: RecommendationQuery) -> dict[str, Any]:
    """A request's query as the dict the task reads (never a path: ids only)."""
    return {key: (str(value) if isinstance(value, int) else value)
            for key, value in item.model_dump().items() if value not in (None, "", [])}
