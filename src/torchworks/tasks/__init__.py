"""Task registry: ``register_task`` / ``get_task`` / ``list_tasks``.

Each task lives in its own sub-package and registers itself with :func:`register_task` when
imported. :func:`load_builtin_tasks` imports them; nothing here imports torch until then.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from torchworks.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    from torchworks.tasks.protocol import Task

_REGISTRY: dict[str, type[Task]] = {}
_loaded = False


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator that makes a task available by its ``name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"task '{cls.name}' is registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def load_builtin_tasks() -> None:
    """Import every sub-package of ``torchworks.tasks`` so that each registers itself."""
    global _loaded
    if _loaded:
        return
    for module in pkgutil.iter_modules(__path__):
        if module.ispkg:
            importlib.import_module(f"{__name__}.{module.name}")
    _loaded = True


def list_tasks() -> list[type[Task]]:
    """All registered task classes, sorted by name."""
    load_builtin_tasks()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def get_task(name: str) -> Task:
    """A fresh instance of the task called ``name``."""
    load_builtin_tasks()
    key = name.strip().lower().replace("_", "-")
    if key not in _REGISTRY:
        raise ConfigError(
            f"unknown task '{name}'",
            expected="a registered task",
            got=name,
            hint=did_you_mean(key, _REGISTRY) + " (`torchworks tasks` lists them)",
        )
    return _REGISTRY[key]()
