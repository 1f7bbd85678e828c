"""A registry in a plain folder: one sub-folder per model, numbered bundle copies, one JSON index.

    registry/tickets/index.json     versions (lineage), aliases and their history
    registry/tickets/1/             the bundle as registered
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from torchworks.bundle.atomic import atomic_write_json
from torchworks.registry.base import Registry, file_lock, lineage
from torchworks.registry.copies import copy_bundle
from torchworks.registry.versions import ModelVersion, check_name

INDEX = "index.json"


class DirectoryRegistry(Registry):
    """The registry kept under ``root``."""

    def __init__(self, root: Path):
        self.root = root
        self.location = f"dir:{root}"

    def _lock(self) -> contextlib.AbstractContextManager:
        return file_lock(self.root / ".lock")

    def _index(self, name: str) -> dict[str, Any]:
        path = self.root / check_name(name) / INDEX
        if not path.is_file():
            return {"versions": {}, "aliases": {}}
        return json.loads(path.read_text(encoding="utf-8"))

    def add(self, run: Path, name: str) -> ModelVersion:
        check_name(name)
        with self._lock():
            index = self._index(name)
            number = max((int(v) for v in index["versions"]), default=0) + 1
            folder = self.root / name
            folder.mkdir(parents=True, exist_ok=True)
            manifest = copy_bundle(run, folder / str(number))
            index["versions"][str(number)] = {
                **lineage(manifest, run), "registered": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            atomic_write_json(folder / INDEX, index)
        return self.get(name, version=number)

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / INDEX).is_file())

    def versions(self, name: str) -> list[ModelVersion]:
        index = self._index(name)
        current = {alias: history[-1] for alias, history in index["aliases"].items() if history}
        return [ModelVersion(name, int(number), self.root / name / number,
                             sorted(a for a, v in current.items() if v == int(number)), facts)
                for number, facts in sorted(index["versions"].items(), key=lambda item: int(item[0]))]

    def _history(self, name: str, alias: str) -> list[int]:
        return list(self._index(name)["aliases"].get(alias, []))

    def _set_alias(self, name: str, alias: str, version: int, history: list[int]) -> None:
        index = self._index(name)
        index["aliases"][alias] = history
        atomic_write_json(self.root / name / INDEX, index)
