"""The typed, versioned preprocessing state a task stores in its bundle.

A task's ``prepare_data`` returns its state as a plain JSON-ready dict (labels, tokenizer, scalers, mel
parameters...). A task that declares ``state_class`` (a :class:`TaskState` subclass) has that dict
checked against it when training ends and whenever a bundle loads, and ``bundle.json`` records the
model's name and ``schema_version`` next to the state. The task's own code keeps reading the dict.

Imports pydantic only (no torch): bundles are checked before anything heavy is loaded.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["TaskState", "ValidationError", "first_problem", "schema_entry"]


class TaskState(BaseModel):
    """Base of every task's state model: unknown keys are refused and values are never coerced.

    Subclasses list each key ``prepare_data`` stores, with its type and a one-line description.
    Raise ``schema_version`` when a change means an older torchworks could not read the new state;
    bundles whose recorded version is newer than the class's are refused at load time.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    schema_version: ClassVar[int] = 1
    # keys that may grow with the data (a recommender's users, items and histories): when the state is too
    # large for bundle.json they are kept in files of their own beside it (see bundle/io.py)
    file_fields: ClassVar[tuple[str, ...]] = ()


def schema_entry(state_class: type[TaskState]) -> dict[str, Any]:
    """What ``bundle.json["state_schema"]`` records: the model's class name and schema version."""
    return {"name": state_class.__name__, "version": state_class.schema_version}


def first_problem(error: ValidationError) -> tuple[str, str]:
    """The first failing field of ``error`` as a dotted path (``scalers.s0.mean``) and its message."""
    problem = error.errors()[0]
    field = ".".join(str(part) for part in problem["loc"]) or "(the whole state)"
    message = problem["msg"]
    if problem["type"] == "missing":
        message = "missing"
    elif problem["type"] == "extra_forbidden":
        message = "not a field of the state model"
    elif "input" in problem:
        message += f" (got {_short(problem['input'])})"
    return field, message


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
