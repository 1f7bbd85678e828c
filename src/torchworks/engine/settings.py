"""Resolve a task's config from user settings, applying a sample dataset's recommended values."""

from __future__ import annotations

from typing import Any

from torchworks.config.loading import check_keys, read_yaml_config, resolve_config
from torchworks.config.schema import TrainConfig
from torchworks.engine.catalog import get_sample
from torchworks.errors import ConfigError
from torchworks.tasks.protocol import Task


def task_config(task: Task, settings: dict[str, Any]) -> TrainConfig:
    """Validate ``settings`` into the task's config. A sample dataset's defaults fill only the
    keys the user did not set; a sample of another task is a clear error."""
    given = {**(read_yaml_config(settings["config"]) if "config" in settings else {}), **settings}
    given.pop("config", None)  # the file is read once, here
    check_keys(task.config_class, given)  # a mistyped key is refused before sample datasets load
    data = given.get("data")
    defaults: dict[str, Any] = {}
    sample = get_sample(str(data)) if data is not None else None
    if sample is not None:
        if sample.task != task.name:
            raise ConfigError(
                f"sample dataset '{sample.name}' is for {sample.task}, not {task.name}",
                expected=f"a {task.name} dataset",
                got=sample.name,
                hint="`torchworks data list` shows which sample fits which task",
            )
        defaults = dict(sample.defaults)
    return resolve_config(task.config_class, given, defaults)  # type: ignore[return-value]


def config_as_dict(config: TrainConfig) -> dict[str, Any]:
    """The config as JSON-ready values (paths as strings)."""
    return config.model_dump(mode="json")
