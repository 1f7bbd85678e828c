"""The model registry: ``torchworks registry add|list|promote|rollback`` and ``serve registry:NAME@ALIAS``.

Where it lives: ``--registry`` or ``$TORCHWORKS_REGISTRY``: ``sqlite:///path/mlflow.db`` for MLflow's
model registry (the default, ``runs/mlflow.db``, the store training runs are tracked in), or
``dir:PATH`` (or any folder path) for a plain directory registry.
"""

from __future__ import annotations

import os
from pathlib import Path

from torchworks.errors import ConfigError
from torchworks.registry.base import Registry
from torchworks.registry.versions import ModelVersion, parse_reference

DEFAULT = "sqlite:///runs/mlflow.db"


def open_registry(location: str | None = None) -> Registry:
    """The registry at ``location`` (or ``$TORCHWORKS_REGISTRY``, or the default)."""
    location = location or os.environ.get("TORCHWORKS_REGISTRY") or DEFAULT
    if location.startswith("sqlite:///"):
        from torchworks.registry.mlflow_store import MlflowRegistry

        return MlflowRegistry(Path(location.removeprefix("sqlite:///")))
    if "://" in location:
        raise ConfigError(f"registry '{location}' is not a local store", expected="sqlite:///PATH.db or dir:PATH",
                          got=location.split("://")[0] + "://", hint="registries live on this machine")
    from torchworks.registry.directory import DirectoryRegistry

    return DirectoryRegistry(Path(location.removeprefix("dir:")).expanduser())


def resolve_registry_reference(reference: str, location: str | None = None) -> ModelVersion:
    """``NAME@ALIAS``, ``NAME/VERSION`` or ``NAME`` (latest) -> the registered version."""
    name, alias, version = parse_reference(reference)
    return open_registry(location).get(name, alias=alias, version=version)


__all__ = ["ModelVersion", "Registry", "open_registry", "resolve_registry_reference"]
