"""One way to turn a bundle into a model: read, check, rebuild and load, never unpickling.

Every mode that starts from a finished run (predict, explain, evaluate, export, benchmark), the
server and the registry's intake use :func:`load_model`, so a bundle is checked the same way
wherever it is opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_model(run: str | Path) -> tuple[Any, Any, Any, Any]:
    """Read the bundle at ``run`` and rebuild its task, config and model, in eval mode.

    Returns:
        ``(bundle, task, config, model)``: the :class:`~torchworks.bundle.io.Bundle`, a fresh task
        instance, its validated config and the network with the bundle's weights (hashes checked).

    Raises:
        BundleError: Not a bundle, an unknown schema, or weights that do not match ``bundle.json``.
        ConfigError: The bundle names a task that is not registered.
    """
    from torchworks.bundle.io import load_weights, read_bundle
    from torchworks.tasks import get_task

    bundle = read_bundle(run)
    task = get_task(bundle.task)
    config = task.config_class.model_validate(bundle.config)
    model = task.build_model(config, bundle.state, for_training=False)
    load_weights(bundle, model)
    model.eval()
    return bundle, task, config, model
