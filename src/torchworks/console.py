"""Where human-readable messages go: stderr, so stdout stays clean for results and pipes."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def console():
    """The shared rich console (stderr)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def is_interactive() -> bool:
    """Whether stderr is a terminal (live progress bars) rather than a log file or a pipe (plain lines)."""
    return console().is_terminal


def say(message: str) -> None:
    """Print a status line to stderr. In a log file a line stays one line: rich would otherwise wrap
    it at 80 columns, the width it assumes when stderr is not a terminal."""
    console().print(message, soft_wrap=not is_interactive())
