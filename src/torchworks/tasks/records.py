"""Typed prediction records shared by tasks, for the server's OpenAPI schema and response checks."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class LabelScore(BaseModel):
    """One class and its probability."""

    label: str
    probability: float


class ClassPrediction(BaseModel):
    """A classifier's answer for one input: the best class, its probability and the top k."""

    model_config = ConfigDict(extra="forbid")

    input: str
    label: str
    probability: float
    top_k: list[LabelScore]
