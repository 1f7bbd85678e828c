"""``torchworks runs [TASK]``: the runs on disk, newest first, and a page comparing them."""

from __future__ import annotations

from typing import Optional

import typer

from torchworks.cli.arguments import print_help, split_settings, wants_help
from torchworks.cli.help import mode_help


def runs(
    ctx: typer.Context,
    arguments: Optional[list[str]] = typer.Argument(None, help="TASK (optional: every task's runs without it), "
                                                    "then output=FOLDER."),
) -> None:
    """List the runs, newest first (task, data, model, primary metric, best baseline, verdict, status,
    size), and write a page comparing them: runs/TASK/overview.html (runs/overview.html for all tasks)."""
    from torchworks.config.modes import RunsSettings, mode_settings

    if wants_help(arguments or []):
        print_help(ctx, mode_help("Runs settings", RunsSettings))
        return
    names, settings = split_settings(arguments or [])
    if len(names) > 1:
        from torchworks.errors import ConfigError

        raise ConfigError("too many tasks for `torchworks runs`", expected="at most one TASK", got=" ".join(names),
                          hint="torchworks runs image-classification (or no task for every run)")
    chosen, _ = mode_settings(RunsSettings, settings, mode="runs")
    from torchworks.engine.overview import overview
    from torchworks.engine.run_index import table_rows, text_table

    found, page = overview(chosen.output, names[0] if names else None)
    if not found:
        typer.echo(f"no runs under {chosen.output / names[0] if names else chosen.output} "
                   "(train one with `torchworks train TASK data=...`, or pass output=FOLDER)")
        return
    typer.echo(text_table(table_rows(found)))
    statuses = [run.status for run in found]
    typer.echo(f"{len(found)} run{'s' if len(found) != 1 else ''}: "
               + ", ".join(f"{statuses.count(s)} {s}" for s in ("finished", "incomplete", "corrupt") if s in statuses))
    typer.echo(f"overview: {page}")
