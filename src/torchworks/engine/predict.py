"""The ``predict`` mode and ``torchworks.load``: a bundle becomes a :class:`Predictor`.

Prediction is partial by default (``bad_files=skip``): an input the model cannot read (a truncated
image, a broken clip, a file of a kind the task does not take) becomes one row ``{"input", "error"}``
in its place, every other input is predicted, and a line on stderr counts and names the bad ones.
Only when nothing could be read is it an error. ``bad_files=fail`` stops at the first bad input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from torchworks.bad_inputs import BadInput, collecting_bad_inputs
from torchworks.bundle.io import Bundle
from torchworks.engine.inputs import check_input_kinds, input_name, wrong_kind
from torchworks.engine.loading import load_model
from torchworks.engine.prediction_files import check_output_file, write_predictions
from torchworks.errors import ConfigError, DataError

BadFiles = Literal["skip", "fail"]
BAD_FILES: tuple[str, ...] = ("skip", "fail")
_NAMED = 3  # bad inputs named in the summary line


def prediction_state(task: Any, bundle: Bundle, options: dict[str, Any]) -> dict[str, Any]:
    """The bundle's state with prediction options (``{"decoder": "greedy"}``) on top, each checked
    against the task's config like a training setting.

    Raises:
        ConfigError: An unknown option (with a did-you-mean hint) or a bad value.
    """
    if not options:
        return bundle.state
    from torchworks.config.loading import resolve_config
    from torchworks.config.modes import PredictSettings
    from torchworks.errors import did_you_mean

    for key in options:
        if key not in task.prediction_options:
            allowed = ", ".join(task.prediction_options) or "none"
            if key in PredictSettings.model_fields:
                hint = f"{key} is a setting of predict itself: give it as {key}=..., not as an option"
            elif key in task.config_class.model_fields:
                hint = f"{key} is a training setting, fixed in the bundle: train again to change it"
            else:
                hint = did_you_mean(key, task.prediction_options) if task.prediction_options else \
                    "this model takes no prediction options"
            raise ConfigError(f"'{key}' cannot change at prediction time", expected=f"one of: {allowed}",
                              got=key, hint=hint)

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
                options: dict[str, Any] | None = None, *, bad_files: BadFiles = "skip",
                **option_values: Any) -> list[dict]:
        """Predictions for ``inputs``: file paths, folders, CSVs of paths, or in-memory items (an
        image as a PIL image or an H x W (x C) uint8 array, a clip as a 1-D float array at the
        model's sample rate, texts, a forecasting DataFrame). A list or tuple holds several inputs.

        Args:
            options: Settings of the run's config that shape predictions (for example
                ``{"decoder": "beam"}``), checked like training settings; they may also be given
                as keywords: ``predict(x, decoder="greedy")``.
            bad_files: ``"skip"`` (default): an input that cannot be read gets a record
                ``{"input", "error"}`` in its place and the others are predicted; ``"fail"``: the
                first one raises DataError.

        Returns:
            One record per input, for example ``{"input", "label", "probability", "top_k"}``.

        Raises:
            DataError: With ``bad_files="skip"``, when no input at all could be read.
        """
        result = self.predict_all(inputs, top_k=top_k, batch_size=batch_size, options=options,
                                  bad_files=bad_files, **option_values)
        if result.bad:
            from rich.markup import escape

            from torchworks.console import console

            console().print(f"[yellow]warning:[/yellow] {escape(result.summary())}", soft_wrap=True)
        return result.records

    def predict_all(self, inputs: Sequence[Any] | Any, top_k: int = 3, batch_size: int | None = None,
                    options: dict[str, Any] | None = None, *, bad_files: BadFiles = "skip",
                    **option_values: Any) -> Predictions:
        """Like :meth:`predict`, with the inputs that could not be read apart (nothing printed)."""
        if bad_files not in BAD_FILES:
            raise ConfigError(f"bad_files={bad_files!r} is not a choice", expected="skip or fail", got=str(bad_files),
                              hint="bad_files=skip writes an error row per unreadable input; fail stops at the first")
        clash = sorted(key for key in option_values if key in (options or {}) and options[key] != option_values[key])
        if clash:
            raise ConfigError(f"'{clash[0]}' is given twice with different values", expected="one value",
                              got=f"options[{clash[0]!r}] and {clash[0]}=", hint="give it once")
        state = prediction_state(self.task, self.bundle, {**(options or {}), **option_values})
        # one path, DataFrame, array or image is one input; a list or tuple holds several
        items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        return predict_items(self.task, self.model, items, state, top_k=top_k,
                             batch_size=batch_size or self.config.batch_size, bad_files=bad_files)

    def save(self, records: list[dict[str, Any]], output: str | Path, options: dict[str, Any] | None = None,
             *, force: bool = False) -> list[Path]:
        """Write ``records`` (from :meth:`predict` with the same ``options``) to ``output`` (.csv or
        .json) and, beside it, what the task draws from them (a detector's annotated images and
        videos); nothing existing is replaced unless ``force``.

        Returns:
            The paths written: ``output`` first.

        Raises:
            OutputError: An unknown format, a missing folder, or an existing file without ``force``.
        """
        output = Path(output)
        check_output_file(output, force, self.task.companion_paths(output))
        return self.write(records, output, options)

    def write(self, records: list[dict[str, Any]], output: Path, options: dict[str, Any] | None = None) -> list[Path]:
        """:meth:`save` without the checks (predict's CLI made them before predicting)."""
        state = prediction_state(self.task, self.bundle, options or {})
        written = [write_predictions(records, output, rows_of=self.task.csv_rows)]
        return written + list(self.task.write_companions(records, output, state))

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


# --- partial prediction -----------------------------------------------------------------------


@dataclass
class Predictions:
    """The records of one prediction, in input order (an unreadable input's record is
    ``{"input", "error"}``), the inputs that could not be read, and how many inputs there were."""

    records: list[dict[str, Any]]
    bad: list[BadInput] = field(default_factory=list)
    inputs: int = 0

    def summary(self) -> str:
        """``2 of 11 inputs could not be read (first: a.png: image file is truncated, ...); ...``."""
        named = "; ".join(f"{bad.input}: {bad.error.got or bad.error.what}" for bad in self.bad[:_NAMED])
        more = ", ..." if len(self.bad) > _NAMED else ""
        return (f"{len(self.bad)} of {self.inputs} inputs could not be read (first: {named}{more}); "
                "their rows carry an error")


@dataclass
class _Part:
    """What one ``predict_inputs`` call made, with the files it passed over (positions among ``ids``)."""

    dataset: Any
    ids: list[Any]
    passed_over: list[BadInput]


def predict_items(task: Any, model: Any, items: list[Any], state: dict[str, Any], *, top_k: int,
                  batch_size: int, bad_files: BadFiles = "skip") -> Predictions:
    """Records for ``items`` (a model, or an export's runner), every readable input predicted.

    With ``bad_files="skip"``, an input of a kind the task does not read, one its ``predict_inputs``
    passes over, one whose dataset item raises DataError, and a top-level input whose reading fails
    altogether each become an error record in its place. ``"fail"`` raises the first.

    Raises:
        DataError: ``"fail"`` and a bad input; or ``"skip"`` and no readable input at all (the
            input's own error when there was one input).
    """
    from torchworks.engine.outputs import collect_outputs, collect_readable_outputs

    reduce = getattr(task, "reduce_outputs", None)  # what is held of each batch until the records are made
    keep = (lambda outputs: reduce(outputs, state)) if reduce is not None else None
    runner = getattr(task, "prediction_runner", None)  # the model, or what runs it piecewise (a sliding window)
    model = runner(model, state) if runner is not None else model

    if bad_files == "fail":
        try:
            check_input_kinds(task, items)
            dataset, ids = task.predict_inputs(items, state)
            outputs = collect_outputs(task, model, dataset, batch_size, keep=keep)
        except DataError as exc:
            if len(items) > 1 or _is_folder(items[0]):  # others could have been predicted: say how
                exc.hint = f"{exc.hint}; or bad_files=skip predicts the rest and gives this input an error row" \
                    if exc.hint else "bad_files=skip predicts the rest and gives this input an error row"
            raise
        records = task.format_predictions(outputs, ids, state, top_k)
        return Predictions(records, [], _count_inputs(records))

    entries = _read_all(task, items, state)
    parts = [entry for entry in entries if isinstance(entry, _Part)]
    outputs, failures = None, {}
    if any(len(part.ids) for part in parts):
        from torch.utils.data import ConcatDataset

        dataset = parts[0].dataset if len(parts) == 1 else ConcatDataset([part.dataset for part in parts])
        outputs, failures = collect_readable_outputs(task, model, dataset, batch_size, keep=keep)
    merger = _Merger(task, outputs, state, top_k)
    offset = 0
    for entry in entries:
        if isinstance(entry, BadInput):
            merger.bad_input(entry)
            continue
        passed_over: dict[int, list[BadInput]] = {}
        for bad in entry.passed_over:
            passed_over.setdefault(bad.position, []).append(bad)
        for position in range(len(entry.ids) + 1):
            for bad in passed_over.get(position, []):
                merger.bad_input(bad)
            if position == len(entry.ids):
                break
            identifier = entry.ids[position]
            if offset + position in failures:
                merger.bad_input(BadInput(input_name(identifier), failures[offset + position], position))
            else:
                merger.readable(identifier)
        merger.flush()
        offset += len(entry.ids)
    result = Predictions(merger.records, merger.bad, len(merger.bad) + _count_inputs(merger.records))
    if len(merger.bad) == len(merger.records) and merger.bad:
        if len(merger.bad) == 1:
            raise merger.bad[0].error
        first = merger.bad[0]
        raise DataError(f"none of the {len(merger.bad)} inputs could be read", expected="at least one input the "
                        "model can read", got=f"{first.input}: {first.error.got or first.error.what} (first of them)",
                        hint="fix the inputs; bad_files=fail stops at the first with the whole message")
    return result


class _Merger:
    """Builds the records in input order: readable items are formatted in runs (one
    ``format_predictions`` call per run between two error rows), error rows go in between."""

    def __init__(self, task: Any, outputs: Any, state: dict[str, Any], top_k: int):
        self.task, self.outputs, self.state, self.top_k = task, outputs, state, top_k
        self.records: list[dict[str, Any]] = []
        self.bad: list[BadInput] = []
        self.run: list[Any] = []
        self.row = 0  # the next row of ``outputs`` (readable items only)

    def readable(self, identifier: Any) -> None:
        self.run.append(identifier)

    def bad_input(self, bad: BadInput) -> None:
        self.flush()
        if self.records and self.bad and self.records[-1] == {"input": bad.input, "error": bad.message}:
            return  # several items of one input (windows of a tiled image) failed alike: one row
        self.bad.append(bad)
        self.records.append({"input": bad.input, "error": bad.message})

    def flush(self) -> None:
        if not self.run:
            return
        from torchworks.batches import take_rows

        rows = take_rows(self.outputs, slice(self.row, self.row + len(self.run)))
        self.records += self.task.format_predictions(rows, self.run, self.state, self.top_k)
        self.row += len(self.run)
        self.run = []


def _read_all(task: Any, items: list[Any], state: dict[str, Any]) -> list[_Part | BadInput]:
    """Items of a kind the task does not read become error entries; the runs of items between them
    are read by ``predict_inputs`` together, collecting the files it passes over."""
    entries: list[_Part | BadInput] = []
    run: list[Any] = []
    for item in items:
        problem = wrong_kind(task, item)
        if problem is None:
            run.append(item)
            continue
        entries += _read_run(task, run, state) if run else []
        run = []
        entries.append(BadInput(input_name(item), problem))
    return entries + (_read_run(task, run, state) if run else [])


def _read_run(task: Any, items: list[Any], state: dict[str, Any]) -> list[_Part | BadInput]:
    """One ``predict_inputs`` call; when it raises, one call per item, so that only the input at
    fault becomes an error entry."""
    with collecting_bad_inputs() as passed_over:
        try:
            dataset, ids = task.predict_inputs(items, state)
        except DataError as error:
            if len(items) > 1:
                return [entry for item in items for entry in _read_run(task, [item], state)]
            # a folder whose every file was passed over ends in "nothing to predict": its files say more
            return list(passed_over.found) or [BadInput(input_name(items[0]), error)]
    return [_Part(dataset, list(ids), passed_over.found)]


def _count_inputs(records: list[dict[str, Any]]) -> int:
    """How many inputs the readable records stand for (a forecast has a record per step, a text
    file one per row, a video one per frame): distinct ``(input, source, row, frame)``."""
    return len({(str(r.get("input")), str(r.get("source")), str(r.get("row")), str(r.get("frame")))
                for r in records if "error" not in r})


def throughput(result: Predictions, seconds: float) -> str:
    """``predicted 300 items in 10.2 s (29.4 per second)``: items being the inputs read (a video's
    frames each count), for any task."""
    count = result.inputs - len(result.bad)
    rate = f" ({count / seconds:.1f} per second)" if seconds > 0 else ""
    return f"predicted {count} item{'s' if count != 1 else ''} in {seconds:.1f} s{rate}"


def _is_folder(item: Any) -> bool:
    return isinstance(item, (str, Path)) and Path(item).is_dir()
