"""Where human-readable messages go: stderr, so stdout stays clean for results and pipes."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def console():
    """The shared rich console (stderr)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def say(message: str) -> None:
    """Print a status line to stderr."""
    console().print(message)
