"""The registry in MLflow's model registry (a local SQLite store by default).

MLflow keeps names, version numbers, aliases and lineage tags; the bundle copies live next to the
database under ``registry/``. A version is only ever served when MLflow says torchworks registered it
and its source is one of those copies: a version registered through an MLflow flavor (a pickle, in
most flavors) is refused, never loaded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from torchworks.errors import BundleError
from torchworks.registry.base import Registry, file_lock, lineage
from torchworks.registry.copies import copy_bundle
from torchworks.registry.versions import ModelVersion, check_name

BUNDLE_TAG = "torchworks.bundle"
HISTORY_TAG = "torchworks.alias_history."


class MlflowRegistry(Registry):
    """The registry in the SQLite database at ``database``."""

    def __init__(self, database: Path):
        self.location = f"sqlite:///{database}"  # as the user gave it
        self.database = database.resolve()
        self.copies = self.database.parent / "registry"
        self._client = None

    def _lock(self) -> contextlib.AbstractContextManager:
        return file_lock(self.database.with_name(self.database.name + ".lock"))

    @property
    def client(self):
        if self._client is None:
            import mlflow  # noqa: F401  (sets up its loggers on import; quiet them afterwards)
            from mlflow import MlflowClient

            for noisy in ("alembic", "mlflow", "sqlalchemy"):
                logging.getLogger(noisy).setLevel(logging.WARNING)
            # two first uses must not both create the schema (a lock of its own: writers hold the other)
            with file_lock(self.database.with_name(self.database.name + ".init.lock")):
                self.database.parent.mkdir(parents=True, exist_ok=True)
                uri = f"sqlite:///{self.database}"
                client = MlflowClient(tracking_uri=uri, registry_uri=uri)
                client.search_registered_models(max_results=1)
            self._client = client
        return self._client

    def add(self, run: Path, name: str) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        check_name(name)
        with self._lock():
            folder = self.copies / name
            folder.mkdir(parents=True, exist_ok=True)
            copy = folder / uuid.uuid4().hex[:12]
            manifest = copy_bundle(run, copy)
            facts = {**lineage(manifest, run), "registered": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            with contextlib.suppress(MlflowException):  # already registered
                self.client.create_registered_model(name)
            version = self.client.create_model_version(
                name, source=copy.as_uri(), description=f"torchworks bundle of run {facts['run_name']}",
                tags={BUNDLE_TAG: "true", "torchworks.lineage": json.dumps(facts)})
        return self.get(name, version=int(version.version))

    def names(self) -> list[str]:
        return sorted(model.name for model in self.client.search_registered_models())

    def versions(self, name: str) -> list[ModelVersion]:
        from mlflow.exceptions import MlflowException

        try:
            model = self.client.get_registered_model(check_name(name))
        except MlflowException:
            return []
        aliases = model.aliases or {}
        found = self.client.search_model_versions(f"name='{name}'")
        return sorted((self._version(name, v, aliases) for v in found), key=lambda v: v.version)

    def _version(self, name: str, version: Any, aliases: dict[str, Any]) -> ModelVersion:
        number = int(version.version)
        tags = version.tags or {}
        lineage_facts = json.loads(tags.get("torchworks.lineage", "{}"))
        bundle = _local_path(version.source)
        if tags.get(BUNDLE_TAG) != "true" or bundle is None or not _inside(bundle, self.copies):
            lineage_facts = {**lineage_facts, "not_a_bundle": True}
        return ModelVersion(name, number, bundle or Path("/nonexistent"),
                            sorted(a for a, v in aliases.items() if int(v) == number), lineage_facts)

    def get(self, name: str, alias: str | None = None, version: int | None = None) -> ModelVersion:
        found = super().get(name, alias, version)
        if found.lineage.get("not_a_bundle"):
            raise BundleError(f"version {found.version} of '{name}' was not registered by torchworks",
                              expected="a torchworks bundle registered with `torchworks registry add`",
                              got="an MLflow model of another kind (such flavors load pickles; they are never served)",
                              hint=f"register the run's bundle: torchworks registry add RUN --name {name}")
        return found

    def _history(self, name: str, alias: str) -> list[int]:
        from mlflow.exceptions import MlflowException

        try:
            model = self.client.get_registered_model(name)
        except MlflowException:
            return []
        history = json.loads((model.tags or {}).get(HISTORY_TAG + alias, "[]"))
        current = (model.aliases or {}).get(alias)
        if current is not None and (not history or history[-1] != int(current)):
            history.append(int(current))  # an alias set outside torchworks
        return history

    def _set_alias(self, name: str, alias: str, version: int, history: list[int]) -> None:
        self.client.set_registered_model_tag(name, HISTORY_TAG + alias, json.dumps(history))
        self.client.set_registered_model_alias(name, alias, str(version))


def _local_path(source: str) -> Path | None:
    parsed = urlparse(source)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        return Path(unquote(parsed.path))
    return None


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve()) and not path.is_symlink()
    except OSError:
        return False
