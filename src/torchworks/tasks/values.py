"""The values that cross the task interface: prepared data, one step's result, a serving
description; an evaluation (:mod:`torchworks.evaluation`) and an explanation
(:mod:`torchworks.attribution.explainer`) live with the shared code that makes them. Plain
dataclasses, importable without torch."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from torchworks.attribution.explainer import Explanation  # noqa: F401  (part of the task interface)

if TYPE_CHECKING:
    import torch
    from torch.utils.data import Dataset


@dataclass(kw_only=True)
class PreparedData:
    """Validated datasets for one run, plus the preprocessing state that goes into the bundle.

    Attributes:
        train: Training dataset; each item is what the task's labelled collate takes.
        val: Validation dataset.
        test: Test dataset, used by ``evaluate``.
        state: JSON-serialisable preprocessing state (labels, normalisation, sizes). Stored in
            ``bundle.json`` and handed back to the task at load time.
        summary: Facts for the report (counts per split and class, skipped files).
        fingerprint: A hash of the data the run saw, to notice when it changed.
        sample_weights: Per-training-sample weights for a weighted sampler, or None to shuffle.
        sample_lengths: Per-training-sample sizes (seconds of audio, tokens), or None. When given,
            training batches group samples of similar size, so little of each batch is padding.
    """

    train: Dataset
    val: Dataset
    test: Dataset
    state: dict[str, Any]
    summary: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    sample_weights: Sequence[float] | None = None
    sample_lengths: Sequence[float] | None = None
    # filled by the engine, not the task: the baselines' metrics on this split once fitted (train) or
    # as the bundle recorded them (evaluate), for evaluation figures that show them beside the model
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolved:
    """A setting the user left unset whose value the data decided (see ``Task.data_choices``).

    Attributes:
        value: The value the run uses (a column name, a model name).
        reason: Why, for the console: ``"detected"`` for values found in the data (columns by
            name), else a short explanation such as ``"chosen: 80 training images and no
            pretrained weights"``.
    """

    value: Any
    reason: str = "detected"


@dataclass
class StepOutput:
    """What one training or validation step gives the engine.

    Attributes:
        loss: The scalar to minimise (training), or to log as ``val_loss`` (validation). A task
            whose model gives no loss in evaluation (a detector) returns None there and monitors
            another metric (``Task.monitor``).
        outputs: The model's outputs for the batch, in whatever structure the task uses; the
            validation metrics are updated with ``(outputs, targets)``.
        targets: The batch's targets, in the task's structure.
        logs: Extra scalars to log, by name (the parts of a composite loss).
        batch_size: How many samples the batch holds (for weighting logged means).
    """

    loss: torch.Tensor | None
    outputs: Any = None
    targets: Any = None
    logs: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 1


@dataclass(frozen=True)
class ServingSpec:
    """How the server and its web page take a task's inputs and describe its predictions.

    Attributes:
        input_kind: ``"image"``, ``"audio"``, ``"text"``, ``"table"``, or ``"query"`` (a form of the
            ``json_item``'s fields, such as a recommender's user or items): the widget the page shows.
        file_types: Suffixes a request may upload (``".png"``); a task that takes only JSON has none.
        json_item: The type of one element of a JSON request's ``inputs`` (validated, and shown in
            the OpenAPI schema), or None when inputs are files (JSON then carries them base64-encoded).
        record: The pydantic model of one prediction record.
        example: One JSON input for the docs and the page, or None.
        options: The ``prediction_options`` a request may set (none that names a local file).
        table: For ``"table"`` inputs, what the page needs to draw the answer: for a forecast, the
            columns by role (``time``, ``target``, ``series``: None for one series, ``covariates``),
            ``lookback`` and ``horizon`` in rows; for ``draws="rows"``, its ``bar`` and ``flag`` fields;
            empty for other inputs.
        draws: How the page shows a record over its input, when it is more than text: ``"boxes"``
            (each record has ``width`` and ``height`` of the image sent and ``boxes``, each with
            ``xyxy`` in its pixels, ``label`` and ``score``; the page draws them on the image with a
            score slider, asking with ``conf`` low when ``conf`` is an option), or ``"mask"`` (each
            record has ``width``, ``height``, ``share`` of each class present and ``masks``: a COCO
            compressed run-length mask ``{"size": [h, w], "counts": str}`` per class present, by label;
            the page lays the classes over the image in their ``colours`` with an opacity slider and a
            legend whose classes can be hidden; the model's first label, the background, starts
            hidden), or ``"list"`` (each record has ``recommendations``: ranked entries with ``item``,
            ``title``, ``genres`` and ``score``, shown as a numbered list), or ``"rows"`` (a record per
            input row, shown as one table: ``table["bar"]`` names the field drawn as a bar against the
            answer's largest, ``table["flag"]`` a yes/no field whose rows are highlighted and counted).
            Empty: the default view.
        colours: An RGB colour per label of the model, by the labels' order, in which the page draws
            each class; empty: the page picks its own.
        choices: For ``"query"`` inputs, values the page offers to pick from, by field of the
            ``json_item``: ``[value, label]`` pairs (a recommender's users and its items with titles).
        extras: Record fields a request may ask for by name (``"include": ["mask_png"]``), each
            computed from a finished record and the model's state (``extras[name](record, state)``),
            so that an answer stays small unless asked for more. The record model declares each as an
            optional field that is None by default (and so left out of answers that do not ask).
    """

    input_kind: str
    file_types: tuple[str, ...]
    json_item: Any
    record: type
    example: Any = None
    options: tuple[str, ...] = ()
    table: dict[str, Any] = field(default_factory=dict)
    draws: str = ""
    colours: tuple[tuple[int, int, int], ...] = ()
    choices: dict[str, list[list[str]]] = field(default_factory=dict)
    extras: Mapping[str, Callable[[dict[str, Any], dict[str, Any]], Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class InputKinds:
    """What files a task's ``predict`` reads, so that a file of another kind is refused by name
    before anything is decoded (a text model must not classify the name of a PNG).

    Attributes:
        files: Suffixes (lower case, with the dot) of a file named as an input.
        folder_files: Suffixes of the files read from a folder named as an input; empty when a
            folder is not an input of this task.
        description: What the model takes, in words, completing "a TASK model takes ...":
            ``"text, or a .csv/.txt/.jsonl file of texts"``.
    """

    files: tuple[str, ...]
    folder_files: tuple[str, ...] = ()
    description: str = ""


@dataclass
class PredictionStream:
    """Inputs too large to hold as records (a table of millions of rows), predicted and written a batch at
    a time (see ``Task.prediction_stream``).

    Attributes:
        batches: ``(model inputs, context)`` per batch, in input order; the context is whatever the task's
            ``prediction_table`` needs besides the outputs (the rows' ids).
        rows: How many rows the batches hold in all, when known (for the progress bar), else None.
    """

    batches: Iterable[tuple[Any, Any]]
    rows: int | None = None
