"""One way to turn a bundle into a model: read, check, rebuild and load, never unpickling.

Every mode that starts from a finished run (predict, explain, evaluate, export, benchmark), the
server and the registry's intake use :func:`load_model`, so a bundle is checked the same way
wherever it is opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torchworks.errors import BundleError


def load_model(run: str | Path) -> tuple[Any, Any, Any, Any]:
    """Read the bundle at ``run`` and rebuild its task, config and model, in eval mode.

    Returns:
        ``(bundle, task, config, model)``: the :class:`~torchworks.bundle.io.Bundle`, a fresh task
        instance (holding the bundle's extra files, if any), its validated config and the network with the
        bundle's weights (hashes checked).

    Raises:
        BundleError: Not a bundle, an unknown schema, a state that does not fit the task's state model
            (or one from a newer schema), or weights that do not match ``bundle.json``.
        ConfigError: The bundle names a task that is not registered.
    """
    from torchworks.bundle.io import load_weights, read_bundle, read_bundle_files
    from torchworks.tasks import get_task

    bundle = read_bundle(run)
    task = get_task(bundle.task)
    check_state(bundle, task)
    config = task.config_class.model_validate(bundle.config)
    model = task.build_model(config, bundle.state, for_training=False)
    load_weights(bundle, model)
    model.eval()
    task.open_bundle_files(model, read_bundle_files(bundle), bundle.state)
    return bundle, task, config, model


def check_state(bundle: Any, task: Any) -> None:
    """Check the bundle's state against ``task.state_class`` and keep it as the model dumps it.

    A bundle without ``state_schema`` (written before states were typed) is version 1. A task without
    a ``state_class`` keeps its state unchecked.

    Raises:
        BundleError: The recorded schema version is newer than the task's, or the state does not
            validate; the message names the bundle and the field.
    """
    from torchworks.tasks.state import ValidationError, first_problem

    state_class = task.state_class
    if state_class is None:
        return
    manifest_path = bundle.path / "bundle.json"
    version = _schema_version(bundle.manifest.get("state_schema", {"version": 1}), manifest_path)
    if version > state_class.schema_version:
        raise BundleError(
            f"the state in '{manifest_path}' was written by a newer torchworks",
            expected=f"{state_class.__name__} version {state_class.schema_version} or older",
            got=f"version {version}",
            hint="upgrade torchworks to load this bundle",
        )
    try:
        validated = state_class.model_validate(bundle.manifest["state"])
    except ValidationError as error:
        field, problem = first_problem(error)
        raise BundleError(
            f"the state in '{manifest_path}' does not fit a {task.name} model: field '{field}'",
            expected=f"a state matching {state_class.__name__} version {version}",
            got=problem,
            hint="the bundle was edited or is damaged; restore it from a copy or train again",
        ) from None
    bundle.manifest["state"] = validated.model_dump(mode="json")


def _schema_version(schema: Any, manifest_path: Path) -> int:
    version = schema.get("version") if isinstance(schema, dict) else None
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BundleError(
            f"'{manifest_path}' has a malformed state_schema",
            expected='{"name": ..., "version": a whole number from 1}',
            got=repr(schema)[:80],
            hint="the bundle was edited or is damaged; restore it from a copy or train again",
        )
    return version
