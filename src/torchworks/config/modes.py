"""Typed settings of the modes that act on a finished run, and the one help formatter for all settings.

Every mode takes its settings as ``key=value`` (or ``config=FILE.yaml``); they are validated here,
through :func:`~torchworks.config.loading.resolve_config`, before any heavy library is imported.
:func:`settings_help` turns any pydantic settings class (these, or a task's config) into the lines
that ``torchworks MODE ... --help`` prints.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from torchworks.config.loading import read_yaml_config, resolve_config
from torchworks.errors import ConfigError, did_you_mean

FORMATS_HELP = "onnx, torchscript, onnx-int8, torchscript-int8, int8 (both int8), all, or a comma list"


class ModeSettings(BaseModel):
    """Base of the mode settings: unknown keys are refused, values are checked, never coerced silently."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class PredictSettings(ModeSettings):
    """``torchworks predict RUN INPUTS... key=value``; the run's prediction options come on top."""

    top_k: int = Field(3, ge=1, le=1000, description="Classes (or candidates) listed per input.")
    batch_size: int | None = Field(None, ge=1, le=65_536,
                                   description="Inputs per model call; default: the run's batch_size.")
    bad_files: Literal["skip", "fail"] = Field(
        "skip", description="An input that cannot be read: skip (a row with its error, the rest predicted) or "
                            "fail (stop at the first, write nothing).")
    cluster: str | None = Field(None, description="Score a Parquet dataset on a Dask cluster: local:N (N worker "
                                "processes here) or a scheduler's address (tcp://HOST:8786); --output names a new "
                                "folder of Parquet parts (tasks that predict table files in batches).")


class ExportSettings(ModeSettings):
    """``torchworks export RUN key=value``."""

    format: str = Field("onnx", description=f"What to export: {FORMATS_HELP}.")
    tolerance: float = Field(0.01, ge=0, description="Largest drop of the test metric the parity gate accepts.")
    threads: int = Field(0, ge=0, le=1024, description="Threads for checking the exports (0: all cores).")


class BenchmarkSettings(ModeSettings):
    """``torchworks benchmark RUN key=value``."""

    formats: str = Field("all", description=f"Exports compared with eager: {FORMATS_HELP}.")
    threads: int = Field(2, ge=1, le=1024, description="Threads every runtime may use.")
    seconds: float = Field(2.0, gt=0, le=3600, description="Seconds per measurement.")
    export: bool = Field(True, description="Export (and parity-check) the formats the run does not have yet.")


class ExplainSettings(ModeSettings):
    """``torchworks explain RUN INPUTS... key=value``; the task's explain options come on top."""

    method: str | None = Field(None, description="Explain method; default: the task's first.")
    target: str | None = Field(None, description="What to explain (a class label, a forecast step, a "
                               "transcript); default: the prediction.")
    output: Path | None = Field(None, description="Deprecated: use the --output flag (a new or empty folder "
                                "for the results; default: RUN/explanations/TIMESTAMP).")


class RunsSettings(ModeSettings):
    """``torchworks runs [TASK] key=value``."""

    output: Path = Field(Path("runs"), description="Root folder of the runs (the output= they were trained with).")


def mode_settings(settings_class: type[ModeSettings], settings: Mapping[str, Any], *, mode: str,
                  extra: Iterable[str] = ()) -> tuple[ModeSettings, dict[str, Any]]:
    """Validate ``settings`` (and ``config=FILE``) into ``settings_class``; keys named in ``extra``
    (a task's prediction or explain options) are passed back untouched for their own check.

    Raises:
        ConfigError: A key that is neither a field nor in ``extra`` (with a did-you-mean hint over
            both), or a value of the wrong type.
    """
    given = dict(settings)
    config_file = given.pop("config", None)
    merged = {**(read_yaml_config(config_file) if config_file is not None else {}), **given}
    fields = settings_class.model_fields
    known = [*fields, *(key for key in extra if key not in fields)]
    for key in merged:
        if key not in known:
            raise ConfigError(f"unknown {mode} setting '{key}'", expected="one of " + ", ".join(known), got=key,
                              hint=f"{did_you_mean(key, known)} (`torchworks {mode} RUN --help` lists them)")
    own = resolve_config(settings_class, {k: v for k, v in merged.items() if k in fields})
    return own, {k: v for k, v in merged.items() if k not in fields}  # type: ignore[return-value]


# --- help -------------------------------------------------------------------------------------


def describe_type(annotation: Any) -> str:
    """``Literal["a", "b"]`` -> ``a|b``; ``int | None`` -> ``int or none``; ``bool`` -> ``true|false``."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "|".join(str(choice) for choice in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        parts = [describe_type(arg) for arg in typing.get_args(annotation) if arg is not type(None)]
        optional = type(None) in typing.get_args(annotation)
        return " or ".join(parts) + (" or none" if optional else "")
    if annotation is bool:
        return "true|false"
    if annotation is Path:
        return "path"
    if origin is not None:
        return str(annotation).replace("typing.", "")
    return getattr(annotation, "__name__", str(annotation))


def _bounds(metadata: list[Any]) -> str:
    signs = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    shown = [f"{signs[name]} {getattr(item, name)}" for item in metadata for name in signs if hasattr(item, name)]
    return ", ".join(shown)


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def settings_help(settings_class: type[BaseModel], *, names: Iterable[str] | None = None,
                  values: Mapping[str, Any] | None = None) -> list[str]:
    """One line per setting of ``settings_class``: ``name=DEFAULT  type  description``.

    Args:
        names: Only these fields, in this order (default: all, in declaration order).
        values: Shown instead of the declared defaults (a run's current values).
    """
    fields = settings_class.model_fields
    rows = []
    for name in names if names is not None else fields:
        info = fields[name]
        if values is not None and name in values:
            default = _shown(values[name])
        elif info.is_required():
            default = "(required)"
        else:
            default = _shown(info.get_default(call_default_factory=True))
        kind = describe_type(info.annotation)
        bounds = _bounds(info.metadata)
        rows.append((f"{name}={default}", f"{kind}{', ' + bounds if bounds else ''}", info.description or ""))
    if not rows:
        return []
    first = min(max(len(row[0]) for row in rows), 34)
    second = min(max(len(row[1]) for row in rows), 30)
    return [f"  {a:<{first}}  {b:<{second}}  {c}".rstrip() for a, b, c in rows]
