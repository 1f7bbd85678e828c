"""Resolve a task's config from user settings, applying a sample dataset's recommended values."""

from __future__ import annotations

import math
from typing import Any

from torchworks.config.loading import check_keys, read_yaml_config, resolve_config
from torchworks.config.schema import TrainConfig
from torchworks.engine.catalog import check_data_name, get_sample
from torchworks.errors import ConfigError
from torchworks.tasks.protocol import Resolved, Task

# an unset batch_size shrinks for small data sets, so that each epoch makes at least this many
# optimiser steps (56 images at the default 64 make one step an epoch: ten epochs are ten steps)
MIN_STEPS_PER_EPOCH = 8
SMALLEST_CHOSEN_BATCH = 8


def task_config(task: Task, settings: dict[str, Any]) -> TrainConfig:
    """Validate ``settings`` into the task's config. A sample dataset's defaults fill only the
    keys the user did not set; a sample of another task is a clear error."""
    given = {**(read_yaml_config(settings["config"]) if "config" in settings else {}), **settings}
    given.pop("config", None)  # the file is read once, here
    # a mistyped key is refused before sample datasets load
    check_keys(task.config_class, given, listing=f"torchworks settings {task.name}")
    data = given.get("data")
    defaults: dict[str, Any] = {}
    sample = get_sample(str(data)) if data is not None else None
    if data is not None and sample is None:
        check_data_name(str(data), task.name)  # data=tikets: did you mean 'tickets'?
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


def apply_data_choices(task: Task, config: TrainConfig, data: Any) -> TrainConfig:
    """``config`` with the settings the data decided (``Task.data_choices``) filled in, each said on
    the console once: detected columns on one ``data:`` line, a chosen value with its reason on its
    own line. Recorded in the run's config, they make evaluate, predict and export rebuild the same model."""
    from torchworks.console import say

    choices = {**task.data_choices(config, data), **_engine_choices(config, data)}
    if not choices:
        return config
    detected = {key: c.value for key, c in choices.items() if c.reason == "detected"}
    if detected:
        shown = " ".join(f"{key}={value}" for key, value in detected.items())
        say(f"data: {shown} (detected; set {', '.join(f'{key}=' for key in detected)} to override)")
    for key, choice in choices.items():
        if choice.reason != "detected":
            say(f"{key}: {choice.value} ({choice.reason}; set {key}= to override)")
    values = {**config_as_dict(config), **{key: c.value for key, c in choices.items()}}
    return type(config).model_validate(values)


def _engine_choices(config: TrainConfig, data: Any) -> dict[str, Resolved]:
    """Choices any task gets from the size of its data: a smaller ``batch_size`` when the training
    split is too small for the default to make :data:`MIN_STEPS_PER_EPOCH` steps an epoch."""
    chosen = small_data_batch_size(config, _count(data.train))
    return {"batch_size": chosen} if chosen is not None else {}


def small_data_batch_size(config: TrainConfig, train_count: int | None) -> Resolved | None:
    """A batch size for a small training split when the user (or the sample's recommendation) set
    none, or None to keep the configured one."""
    if train_count is None or train_count == 0 or "batch_size" in config.model_fields_set:
        return None
    steps = math.ceil(train_count / config.batch_size)
    if steps >= MIN_STEPS_PER_EPOCH:
        return None
    size = max(SMALLEST_CHOSEN_BATCH, 2 ** int(math.log2(max(1, train_count // MIN_STEPS_PER_EPOCH))))
    if size >= config.batch_size:
        return None
    if train_count % size == 1:  # a last batch of one sample breaks batch normalisation in training
        size += 1
    plural = "step" if steps == 1 else "steps"
    return Resolved(size, f"chosen: {train_count} training samples make {steps} optimiser {plural} an epoch at "
                          f"batch_size={config.batch_size}, {math.ceil(train_count / size)} at {size}")


def _count(dataset: Any) -> int | None:
    try:
        return len(dataset)
    except TypeError:
        return None
