"""What every table bundle keeps: the columns a model reads and how they are encoded (no torch)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class TableState(BaseModel):
    """The columns a table model reads and how they are encoded: a table task's state class derives from
    both :class:`~torchworks.tasks.state.TaskState` and this."""

    columns: list[dict[str, Any]] = Field(min_length=1, description="Input columns in file order: name, kind "
                                          "(numeric, categorical, boolean, datetime, text), missing cells seen.")
    dropped: list[dict[str, Any]] = Field(default_factory=list, description="Columns left out, with why.")
    ids: list[str] = Field(default_factory=list, description="Id columns copied into predictions.")
    encoding: dict[str, Any] = Field(description="Per feature: its column, what of it, and its centre and scale "
                                     "or its category values (fitted on the training split).")
