"""``torchworks data list|make``: the bundled sample datasets, and fresh copies of generated ones."""

from __future__ import annotations

from typing import Optional

import typer

from torchworks.cli.arguments import SETTINGS_CONTEXT, print_help, subject, wants_help
from torchworks.cli.help import generator_help

data_app = typer.Typer(help="Bundled sample datasets.", no_args_is_help=True)


@data_app.command("list")
def data_list() -> None:
    """List bundled sample datasets (use them as data=NAME)."""
    from torchworks.engine.catalog import list_samples

    for sample in list_samples():
        typer.echo(f"{sample.name:<14} {sample.task:<22} {sample.description} [{sample.source}]")


@data_app.command("make", context_settings=SETTINGS_CONTEXT)
def data_make(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A sample with a generator, e.g. spoken-digits."),
    settings: Optional[list[str]] = typer.Argument(None, help="out=FOLDER and the generator's settings (n=3000 ...)."),
) -> None:
    """Generate a fresh copy of a sample dataset (for example more spoken digits). `torchworks data make
    NAME --help` lists the generator's settings."""
    if wants_help([name, *(settings or [])]):
        print_help(ctx, generator_help(subject([name, *(settings or [])])))
        return
    from torchworks.config import parse_overrides
    from torchworks.engine.catalog import make_dataset

    typer.echo(f"dataset: {make_dataset(name, parse_overrides(settings or []))}")
