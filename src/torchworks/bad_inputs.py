"""Inputs a prediction cannot read: passed over and recorded (``bad_files=skip``) or raised (``fail``).

A task's ``predict_inputs`` that reads files up front calls :func:`pass_over` for each file it cannot
read, with the error naming the file and the number of readable items it has listed so far. While
the engine predicts with ``bad_files=skip`` (inside :func:`collecting_bad_inputs`), the error is
recorded and the task goes on with the next file; otherwise it is raised, as before. A task that
decodes lazily, in its dataset's ``__getitem__``, just raises
:class:`~torchworks.errors.DataError` there: the engine catches it per item.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from torchworks.errors import DataError


@dataclass(frozen=True)
class BadInput:
    """An input left out: its name as the user gave it, the error, and its place among the items a
    ``predict_inputs`` call listed (``position`` readable items came before it)."""

    input: str
    error: DataError
    position: int = 0

    @property
    def message(self) -> str:
        """The error on one line, what and why, without the hint: the ``error`` field of its row."""
        return short_message(self.error)


@dataclass
class BadInputs:
    """What :func:`pass_over` recorded during one :func:`collecting_bad_inputs` block, in order."""

    found: list[BadInput] = field(default_factory=list)


_current: ContextVar[BadInputs | None] = ContextVar("torchworks_bad_inputs", default=None)


@contextmanager
def collecting_bad_inputs() -> Iterator[BadInputs]:
    """Within the block, :func:`pass_over` records errors instead of raising them."""
    collector = BadInputs()
    token = _current.set(collector)
    try:
        yield collector
    finally:
        _current.reset(token)


def pass_over(name: str, error: DataError, position: int) -> None:
    """Record ``error`` for the input ``name`` and return (so the caller skips it) when bad inputs
    are being collected; raise it otherwise.

    Args:
        name: The input as the user would recognise it (a path, an upload's name).
        error: What is wrong with it, naming it.
        position: How many readable items the caller has listed before this input.
    """
    collector = _current.get()
    if collector is None:
        raise error
    collector.found.append(BadInput(name, error, position))


def short_message(error: DataError) -> str:
    """``what: expected X, got Y`` on one line, without the hint."""
    return DataError(error.what, expected=error.expected, got=error.got).render()
