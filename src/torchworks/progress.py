"""Progress bars for long loops outside Lightning (scanning files, fitting baselines)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def track(items: Iterable[T], description: str, total: int | None = None, enabled: bool = True) -> Iterator[T]:
    """Iterate ``items`` with a rich progress bar on stderr (plain iteration when disabled)."""
    if not enabled:
        yield from items
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:  # a log file gets no bar (rich would leave an empty line in it)
        yield from items
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        yield from progress.track(items, total=total, description=description)


class RowCounter:
    """A progress bar counted in rows with their rate (``1,234,567 rows, 81,234 rows/s``), for scans of large
    tables; on stderr, and only on a terminal. Use as a context manager and call :meth:`advance`."""

    def __init__(self, description: str, total: int | None = None, enabled: bool = True):
        self.description, self.total, self.enabled = description, total, enabled
        self.rows = 0
        self._progress = self._task = None

    def __enter__(self) -> RowCounter:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        console = Console(stderr=True)
        if self.enabled and console.is_terminal:
            columns = [TextColumn("{task.description}"), BarColumn(),
                       TextColumn("{task.completed:,.0f} rows, {task.fields[rate]} rows/s"), TimeElapsedColumn()]
            if self.total is not None:
                columns.append(TimeRemainingColumn())
            self._progress = Progress(*columns, console=console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=self.total, rate="-")
        return self

    def advance(self, rows: int) -> None:
        self.rows += rows
        if self._progress is not None:
            speed = self._progress.tasks[0].speed
            self._progress.update(self._task, advance=rows, rate=f"{speed:,.0f}" if speed else "-")

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()
