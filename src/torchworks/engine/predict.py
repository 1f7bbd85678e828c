"""The ``predict`` mode and ``torchworks.load``: a bundle becomes a :class:`Predictor`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torchworks.bundle.io import Bundle
from torchworks.engine.loading import load_model


def prediction_state(task: Any, bundle: Bundle, options: dict[str, Any]) -> dict[str, Any]:
    """The bundle's state with prediction options (``{"decoder": "greedy"}``) on top, each checked
    against the task's config like a training setting.

    Raises:
        ConfigError: An unknown option (with a did-you-mean hint) or a bad value.
    """
    if not options:
        return bundle.state
    from torchworks.config.loading import resolve_config
    from torchworks.errors import ConfigError, did_you_mean

    for key in options:
        if key not in task.prediction_options:
            allowed = ", ".join(task.prediction_options) or "none"
            raise ConfigError(f"'{key}' cannot change at prediction time", expected=f"one of: {allowed}",
                              got=key, hint=did_you_mean(key, task.prediction_options) if task.prediction_options
                              else "this model takes no prediction options; train with the setting instead")

    config = resolve_config(task.config_class, {**bundle.config, **options})
    return {**bundle.state, **{key: getattr(config, key) for key in options}}


class Predictor:
    """A trained model ready to predict. Get one with :func:`torchworks.load`."""

    def __init__(self, run: str | Path):
        self.bundle: Bundle
        self.bundle, self.task, self.config, self.model = load_model(run)

    @property
    def labels(self) -> list[str] | None:
        return self.bundle.state.get("labels")

    def predict(self, inputs: Sequence[Any] | Any, top_k: int = 3, batch_size: int | None = None,
                options: dict[str, Any] | None = None) -> list[dict]:
        """Predictions for ``inputs`` (file paths, folders, CSVs of paths, or in-memory items).

        Args:
            options: Settings of the run's config that shape predictions (for example
                ``{"decoder": "beam"}``), checked like training settings.

        Returns:
            One record per input, for example ``{"input", "label", "probability", "top_k"}``.
        """
        from torchworks.engine.outputs import collect_outputs

        state = prediction_state(self.task, self.bundle, options or {})
        # one path, DataFrame or image is one input; a list or tuple holds several
        items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        dataset, ids = self.task.predict_inputs(items, state)
        outputs = collect_outputs(self.task, self.model, dataset, batch_size or self.config.batch_size)
        return self.task.format_predictions(outputs, ids, state, top_k)

    def explain(self, inputs: Sequence[Any] | Any, method: str | None = None, target: str | None = None,
                **options: Any) -> list:
        """Explanations of ``inputs`` in memory, nothing written (``torchworks.explain`` writes them).

        Returns:
            One :class:`~torchworks.tasks.protocol.Explanation` per input: ``.record`` (JSON-ready),
            ``.figures`` (name -> PNG bytes) and ``.html`` (a fragment, or None).
        """
        from torchworks.engine.explain import explain_items

        return explain_items(self.task, self.model, self.bundle.state, inputs, method=method, target=target,
                             options=options)

    def __repr__(self) -> str:
        return f"Predictor(task={self.task.name!r}, run='{self.bundle.path}')"


def check_output_file(output: Path, force: bool) -> None:
    """Refuse, before any work, to replace an existing file or to write an unknown format."""
    from torchworks.errors import OutputError

    if output.suffix.lower() not in (".csv", ".json"):
        raise OutputError(f"cannot write predictions to '{output}'", expected="a .csv or .json file",
                          got=output.suffix or "no extension", hint="use --output preds.csv or --output preds.json")
    if output.exists() and not force:
        raise OutputError(f"'{output}' already exists", expected="a new file name", got="an existing file",
                          hint="choose another --output, or add --force to replace it")
    if not output.parent.is_dir():
        raise OutputError(f"cannot write '{output}'", expected="an existing folder", got="no such folder",
                          hint=f"create {output.parent} first")


def write_predictions(records: list[dict], output: Path) -> Path:
    """Save predictions as CSV (nested fields as JSON text) or JSON, by the file's extension."""
    import json

    import pandas as pd

    from torchworks.bundle.atomic import atomic_write_bytes, atomic_write_json

    if output.suffix.lower() == ".json":
        return atomic_write_json(output, records)
    frame = pd.DataFrame(
        [{k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in r.items()} for r in records]
    )
    return atomic_write_bytes(output, frame.to_csv(index=False).encode("utf-8"))
