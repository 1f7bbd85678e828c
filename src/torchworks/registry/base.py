"""The registry interface: versions, aliases, promotion and rollback, whatever stores the index.

Both stores keep their own copy of each registered bundle (see :mod:`.copies`) and serialise writers
with a lock file, so two processes registering at once never lose a version or see a half-written
index.
"""

from __future__ import annotations

import contextlib
import fcntl
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from torchworks.errors import ConfigError, did_you_mean
from torchworks.registry.versions import ModelVersion, check_alias, check_name


class Registry(ABC):
    """Named models with numbered versions and movable aliases."""

    location: str

    @abstractmethod
    def add(self, run: Path, name: str) -> ModelVersion:
        """Register a copy of the bundle at ``run`` as the next version of ``name``."""

    @abstractmethod
    def names(self) -> list[str]:
        """Registered model names."""

    @abstractmethod
    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first."""

    @abstractmethod
    def _set_alias(self, name: str, alias: str, version: int, history: list[int]) -> None:
        """Point ``alias`` at ``version`` and store the alias's history (oldest first)."""

    @abstractmethod
    def _history(self, name: str, alias: str) -> list[int]:
        """Versions ``alias`` pointed at, oldest first (the last is the current one)."""

    @abstractmethod
    def _lock(self) -> contextlib.AbstractContextManager:
        """Held by every writer."""

    # ------------------------------------------------------------ shared
    def get(self, name: str, alias: str | None = None, version: int | None = None) -> ModelVersion:
        """A version by number, by alias, or the latest."""
        versions = self.versions(check_name(name))
        if not versions:
            raise ConfigError(f"no model named '{name}' is registered", expected="one of: "
                              + (", ".join(self.names()) or "none yet"), got=repr(name),
                              hint=did_you_mean(name, self.names()) if self.names() else
                              f"register one: torchworks registry add RUN --name {name}")
        if alias is not None:
            history = self._history(name, check_alias(alias))
            if not history:
                known = sorted({a for v in versions for a in v.aliases})
                raise ConfigError(f"'{name}' has no alias '{alias}'", expected="one of: " + (", ".join(known) or "none"),
                                  got=repr(alias), hint=f"torchworks registry promote {name} VERSION --alias {alias}")
            version = history[-1]
        if version is None:
            return versions[-1]
        found = next((v for v in versions if v.version == version), None)
        if found is None:
            raise ConfigError(f"'{name}' has no version {version}", expected=f"1 to {versions[-1].version}",
                              got=str(version), hint=f"torchworks registry list {name}")
        return found

    def promote(self, name: str, version: int, alias: str) -> ModelVersion:
        """Point ``alias`` at ``version`` (one step, visible to readers all at once)."""
        with self._lock():
            self.get(name, version=version)  # it exists
            history = self._history(name, check_alias(alias))
            if not history or history[-1] != version:
                self._set_alias(name, alias, version, [*history, version])
        return self.get(name, version=version)

    def rollback(self, name: str, alias: str) -> ModelVersion:
        """Point ``alias`` back at the version it named before its last promotion."""
        with self._lock():
            history = self._history(check_name(name), check_alias(alias))
            if len(history) < 2:
                raise ConfigError(f"'{name}@{alias}' has nothing to roll back to",
                                  expected="an alias promoted at least twice",
                                  got="its first version" if history else "no such alias",
                                  hint=f"promote a version: torchworks registry promote {name} VERSION --alias {alias}")
            self._set_alias(name, alias, history[-2], history[:-1])
        return self.get(name, alias=alias)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock shared by every process using the same file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lineage(manifest: dict[str, Any], run: Path) -> dict[str, Any]:
    """Where a version came from: run, task, data fingerprint, metrics, weights hash, creation time."""
    metrics = {k: v for k, v in (manifest.get("metrics") or {}).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return {
        "task": manifest.get("task"),
        "run": str(run.resolve()),
        "run_name": manifest.get("name", run.name),
        "data_fingerprint": (manifest.get("data") or {}).get("fingerprint"),
        "weights_sha256": (manifest.get("weights") or {}).get("sha256"),
        "trained": manifest.get("created"),
        "metrics": metrics,
    }
