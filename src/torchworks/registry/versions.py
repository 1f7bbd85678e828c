"""What a registry knows about one model version, and the names it accepts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torchworks.errors import ConfigError

# a model name: safe in URLs, file names and MLflow (served and registered models alike)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
RESERVED_ALIASES = frozenset({"latest"})


@dataclass
class ModelVersion:
    """One registered version: its number, the registry's own copy of the bundle, aliases, lineage."""

    name: str
    version: int
    bundle: Path
    aliases: list[str] = field(default_factory=list)
    lineage: dict[str, Any] = field(default_factory=dict)

    def facts(self) -> dict[str, Any]:
        """What the server shows about where a served model came from."""
        return {"name": self.name, "version": self.version, "aliases": self.aliases, **self.lineage}


def check_name(name: str) -> str:
    if not NAME.match(name or "") or ".." in name:
        raise ConfigError(f"'{name}' cannot be a registered model name",
                          expected="letters, digits, '.', '_' or '-', starting with a letter or digit, at most 64",
                          got=repr(name), hint="for example --name tickets")
    return name


def check_alias(alias: str) -> str:
    if not ALIAS.match(alias or "") or alias in RESERVED_ALIASES or re.fullmatch(r"v\d+", alias):
        raise ConfigError(f"'{alias}' cannot be an alias", expected="a word such as production or staging "
                          "(letters, digits, '_' or '-'; not 'latest' or v1, v2...)", got=repr(alias),
                          hint="for example --alias production")
    return alias


def parse_reference(text: str) -> tuple[str, str | None, int | None]:
    """``NAME``, ``NAME@ALIAS`` or ``NAME/VERSION`` -> (name, alias, version)."""
    name, at, alias = text.partition("@")
    if at:
        return check_name(name), check_alias(alias), None
    name, slash, number = text.partition("/")
    if slash:
        if not number.isdigit() or int(number) < 1:
            raise ConfigError(f"'{text}' names no version", expected="NAME/VERSION with a version number "
                              "such as tickets/3", got=repr(number), hint="or NAME@ALIAS, e.g. tickets@production")
        return check_name(name), None, int(number)
    return check_name(name), None, None
