"""What a finished run prints: its test metrics, each baseline's, and the verdict between them; for a
quickstart, a table of every task's."""

from __future__ import annotations


def print_metrics(metrics: dict) -> None:
    from torchworks.console import say
    from torchworks.engine.outputs import speed_line

    scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    say("  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in scalars.items()))
    for name, values in (metrics.get("baselines") or {}).items():
        shared = {k: values[k] for k in scalars if isinstance(values.get(k), float)}
        say(f"baseline {name}: " + "  ".join(f"{k}={v:.4f}" for k, v in shared.items()))
    speed = speed_line(metrics.get("speed") or {})
    if speed:
        say(f"[dim]{speed}[/dim]")
    print_verdict(metrics)


def print_verdict(metrics: dict) -> None:
    """The run's verdict against its best baseline: the line just before the one naming the result."""
    from rich.markup import escape

    from torchworks.console import say
    from torchworks.engine.verdict import verdict_line

    verdict = verdict_line(metrics)
    if verdict is not None:
        line, tone = verdict
        colour = {"good": "green", "warn": "yellow"}.get(tone)
        say(f"[{colour}]{escape(line)}[/{colour}]" if colour else escape(line))


def print_quickstart(rows: list[dict]) -> None:
    """The quickstart's table (stderr), then each task's verdict and, on stdout, its bundle."""
    import typer
    from rich.markup import escape
    from rich.table import Table

    from torchworks.console import console, say

    table = Table(title="torchworks quickstart")
    columns = ("task", "metric", "value", "baseline", "time")  # bundle paths follow, one full line each
    for column in columns:
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(*(f"{row[c]:.4f}" if isinstance(row[c], float) else str(row[c]) for c in columns))
    shown = console()
    if not shown.is_terminal:  # a log file gets the whole table: rich cuts to the 80 columns it assumes there
        from rich.console import Console

        shown = Console(stderr=True, highlight=False, width=160)
    shown.print(table)
    for row in rows:
        if row["verdict"]:
            say(escape(f"verdict ({row['task']}): {row['verdict']}"))
        typer.echo(f"bundle: {row['bundle']}")
