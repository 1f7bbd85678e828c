"""How the CLI reads its arguments: inputs are positional, settings are ``key=value``, ``--help``
may come anywhere; and the generated help is printed under the command's own usage."""

from __future__ import annotations

import re

import typer

# Modes whose settings are key=value arguments: unknown options and --help reach the command, which
# prints help generated from its typed settings (and the task's or run's own).
SETTINGS_CONTEXT = {"ignore_unknown_options": True, "help_option_names": []}
HELP = "--help"
SETTING_NOTE = ("An argument that starts with NAME= is a setting; a text input of that shape goes in a "
                ".txt or .csv file instead.")
SETTING = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*=")


def split_settings(arguments: list[str], legacy: bool = False) -> tuple[list[str], dict[str, str]]:
    """``["a.png", "method=saliency"]`` -> inputs and settings: an argument that starts with a
    name and ``=`` is a setting (a text with such a start can go in a .txt file instead).

    With ``legacy``, the old ``--key value`` / ``--key=value`` spelling is read as ``key=value``
    with a one-line deprecation warning on stderr.
    """
    from torchworks.config import parse_overrides

    inputs, settings = [], []
    items = iter(arguments)
    for item in items:
        if legacy and item.startswith("--") and len(item) > 2:
            key, sep, value = item[2:].partition("=")
            value = value if sep else next(items, "")
            setting = f"{key.replace('-', '_')}={value}"
            typer.echo(f"warning: '{item}{'' if sep else ' ' + value}' is deprecated and will be removed in the next "
                       f"release; write {setting}", err=True)
            settings.append(setting)
        elif SETTING.match(item):
            settings.append(item)
        else:
            inputs.append(item)
    return inputs, parse_overrides(settings)


def with_query(inputs: list, settings: dict[str, str], keys: tuple[str, ...]) -> tuple[list, dict[str, str]]:
    """Settings among a task's ``query_options`` (``user=42``) become one more input, a dict of them;
    the other settings are returned as they were."""
    query = {key: value for key, value in settings.items() if key in keys}
    if not query:
        return inputs, settings
    return [*inputs, query], {key: value for key, value in settings.items() if key not in keys}


def wants_help(arguments: list[str]) -> bool:
    return HELP in arguments


def subject(arguments: list[str]) -> str | None:
    """The TASK or RUN a ``--help`` is about (it may come before or after it); None when none is given."""
    return next((item for item in arguments if item != HELP and not SETTING.match(item)), None)


def print_help(ctx: typer.Context, sections: list[tuple[str, list[str]]]) -> None:
    """The command's usage and description, then each section of generated setting lines."""
    typer.echo(ctx.get_help())
    print_sections(sections)


def print_sections(sections: list[tuple[str, list[str]]]) -> None:
    """Each section of generated help: its title, then its lines, after a blank line."""
    for title, lines in sections:
        typer.echo("")
        typer.echo(title)
        for line in lines:
            typer.echo(line)


def run_task(run: str):
    """The bundle at ``run`` and its task, read without loading the model (no torch)."""
    from torchworks.bundle.io import read_bundle
    from torchworks.tasks import get_task

    bundle = read_bundle(run)
    return bundle, get_task(bundle.task)
