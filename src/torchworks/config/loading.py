"""One validation path: YAML file + ``key=value`` overrides (+ sample-dataset defaults) -> config object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from torchworks.errors import ConfigError, did_you_mean


def parse_overrides(args: list[str]) -> dict[str, str]:
    """Turn ``["epochs=10", "model=resnet18"]`` into a dict; a bare word is an error with a hint."""
    overrides: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        key = key.strip().lstrip("-").replace("-", "_")
        if not sep or not key:
            raise ConfigError(
                f"cannot read argument '{arg}'",
                expected="key=value (for example epochs=10)",
                got=repr(arg),
                hint="write settings as key=value; `torchworks settings TASK` lists a task's settings",
            )
        overrides[key] = value
    return overrides


def read_yaml_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping of settings, naming the file and line when it is not valid."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            f"config file '{file}' does not exist",
            expected="a YAML file of key: value settings",
            got="no such file",
            hint="check the path given as config=",
        )
    try:
        content = yaml.safe_load(file.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"config file '{file}'{where} is not valid YAML",
            expected="key: value lines",
            got=str(getattr(exc, "problem", exc)),
            hint="fix the YAML syntax at that line",
        ) from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(
            f"config file '{file}' is not a mapping",
            expected="key: value settings at the top level",
            got=type(content).__name__,
            hint="write one setting per line, like `epochs: 10`",
        )
    return {str(k).replace("-", "_"): v for k, v in content.items()}


def resolve_config(
    config_class: type[BaseModel],
    settings: dict[str, Any],
    defaults: dict[str, Any] | None = None,
) -> BaseModel:
    """Validate ``settings`` (after loading ``config=FILE`` if present) into ``config_class``.

    Args:
        config_class: The task's config model.
        settings: Keys from the command line, Python or REST. ``config`` names a YAML file whose
            values the other settings override.
        defaults: Values used only where neither the file nor the settings give one (for example a
            sample dataset's recommended model).

    Raises:
        ConfigError: An unknown key (with a did-you-mean hint) or an invalid value.
    """
    settings = dict(settings)
    merged: dict[str, Any] = {}
    config_file = settings.pop("config", None)
    if config_file is not None:
        merged.update(read_yaml_config(config_file))
    merged.update(settings)
    check_keys(config_class, merged)
    for key, value in (defaults or {}).items():
        merged.setdefault(key, value)
    try:
        return config_class.model_validate(merged)
    except ValidationError as exc:
        raise _config_error(exc, merged) from None


# What a person types, for the errors whose pydantic wording is about parsing
_EXPECTED = {
    "bool_parsing": "yes or no (or true/false, on/off, 1/0)",
    "bool_type": "yes or no (or true/false, on/off, 1/0)",
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
}


def check_keys(config_class: type[BaseModel], settings: dict[str, Any], listing: str | None = None) -> None:
    """Refuse a key that is not a field of ``config_class``, with a did-you-mean hint (and ``listing``,
    the command that lists the settings, when given)."""
    fields = config_class.model_fields
    for key in settings:
        if key not in fields:
            raise ConfigError(
                f"unknown setting '{key}'",
                expected="one of the settings of this task",
                got=key,
                hint=did_you_mean(key, fields) + (f" (`{listing}` lists them)" if listing else ""),
            )


def _config_error(exc: ValidationError, given: dict[str, Any]) -> ConfigError:
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "config"
    if first["type"] == "missing":
        return ConfigError(
            f"setting '{key}' is required",
            expected=f"{key}=...",
            got="nothing",
            hint=f"add {key}=VALUE (for data: a sample name from `torchworks data list` or a path)",
        )
    expected = _EXPECTED.get(first["type"], first["msg"])
    ctx = first.get("ctx") or {}
    if "expected" in ctx:
        expected = f"one of {ctx['expected']}"
    return ConfigError(
        f"invalid value for '{key}'",
        expected=expected.replace("Input should be ", "").replace("Value error, ", ""),
        got=repr(given.get(key.split(".")[0], first.get("input"))),
        hint=f"set {key}= to a valid value",
    )
