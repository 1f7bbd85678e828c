"""The Task interface: everything the engine needs from a kind of problem, and nothing more.

A task is a plugin (one folder under ``tasks/``) registered with :func:`torchworks.tasks.register_task`.
The engine wraps it in Lightning; modes never look at the task's name, only at this interface.

Required: ``prepare_data``, ``build_model``, a ``loss`` (or a whole ``step``), test-set evaluation
(``evaluate`` on all outputs, or a streaming ``evaluator``), ``predict_inputs``,
``format_predictions`` and ``quickstart_settings``. Everything else has a default. What a task can do
beyond train, evaluate and predict comes from the capabilities it mixes in
(:mod:`torchworks.tasks.capabilities`); ``modes`` is derived from them. This module imports no torch,
so listing tasks and refusing bad settings stay fast.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from torchworks.config.schema import TrainConfig
from torchworks.evaluation import CollectingEvaluator, Evaluation, Evaluator
from torchworks.tasks.capabilities import Explainable, Exportable, Servable, modes_of
from torchworks.tasks.state import TaskState
from torchworks.tasks.values import (
    Explanation,
    InputKinds,
    PredictionStream,
    PreparedData,
    Resolved,
    ServingSpec,
    StepOutput,
)

if TYPE_CHECKING:  # heavy imports only for type checkers; the CLI must start fast
    import torch
    from lightning.pytorch import Callback
    from torch import nn
    from torch.utils.data import Dataset

__all__ = ["Evaluation", "Evaluator", "Explainable", "Explanation", "Exportable", "InputKinds", "PredictionStream",
           "PreparedData", "Resolved", "Servable", "ServingSpec", "Stage", "StepOutput", "Task", "TaskState"]

Stage = Literal["train", "val"]


class Task(ABC):
    """A kind of problem: data, model, step, metrics, predictions, recipes."""

    name: ClassVar[str]
    description: ClassVar[str]
    config_class: ClassVar[type[TrainConfig]] = TrainConfig
    # derived from the capabilities the class mixes in (see capabilities.py); never set by hand
    modes: ClassVar[tuple[str, ...]] = modes_of(object)
    primary_metric: ClassVar[str]
    higher_is_better: ClassVar[bool] = True
    # what checkpoints keep and early stopping watches: a logged validation value and "min" or "max"
    monitor: ClassVar[tuple[str, str]] = ("val_loss", "min")
    # config fields a prediction may override (``decoder=greedy``), checked like training settings and put in
    # the state predict_inputs and format_predictions get; a task may read some as the input's column names
    prediction_options: ClassVar[tuple[str, ...]] = ()
    # settings that say what to predict or explain rather than how (a recommender's ``user=42``,
    # ``items=a,b``): the CLI gathers those given into one input, a dict, for ``predict_inputs``
    query_options: ClassVar[tuple[str, ...]] = ()
    # the files predict reads: an input naming an existing file (or folder) of another kind is refused
    # before predict_inputs, saying what the model takes; None: no such check (any file goes to the task)
    input_kinds: ClassVar[InputKinds | None] = None
    # the typed model of what prepare_data stores as ``state`` (see tasks/state.py): checked when training
    # ends and when a bundle loads, and recorded with its schema version; None stores the dict unchecked
    state_class: ClassVar[type[TaskState] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "modes" in cls.__dict__:
            raise TypeError(f"{cls.__name__} sets `modes` by hand; it is derived from the capabilities the class "
                            "mixes in (Explainable, Exportable, Servable)")
        cls.modes = modes_of(cls)

    def require_mode(self, mode: str) -> None:
        """Raise ConfigError unless this task has ``mode``."""
        from torchworks.errors import ConfigError

        if mode not in self.modes:
            raise ConfigError(f"{self.name} models have no {mode} mode", expected="one of " + ", ".join(self.modes),
                              got=mode, hint="`torchworks tasks` lists every task's modes")

    def check_config(self, config: TrainConfig) -> None:
        """Fail fast, before any data is read, on settings that cannot work (unknown model name,
        pretrained weights that are not on this machine). Raises ConfigError."""

    # ----------------------------------------------------------------- data
    @abstractmethod
    def prepare_data(self, config: TrainConfig, state: dict[str, Any] | None = None) -> PreparedData:
        """Build and validate the datasets. With ``state`` (from a bundle), reuse its labels and
        preprocessing rather than fitting them again."""

    def collate_fn(self, *, labelled: bool) -> Callable[[list[Any]], Any]:
        """The DataLoader collate function; PyTorch's default unless overridden.

        ``labelled=True`` collates training, validation and test items into ``(inputs, targets)``;
        ``labelled=False`` collates the items of ``predict_inputs``' dataset into model inputs alone.
        """
        from torch.utils.data import default_collate

        return default_collate

    # ---------------------------------------------------------------- model
    @abstractmethod
    def build_model(self, config: TrainConfig, state: dict[str, Any], *, for_training: bool) -> nn.Module:
        """The network. ``for_training`` is False when weights come from a bundle, so nothing
        pretrained is fetched."""

    def loss(self, outputs: Any, targets: Any, state: dict[str, Any]) -> torch.Tensor:
        """The loss of one batch, for the default :meth:`step`. A task that overrides ``step``
        need not implement it."""
        raise NotImplementedError(f"{type(self).__name__} implements neither loss() nor step()")

    def step(self, model: nn.Module, batch: Any, stage: Stage, state: dict[str, Any]) -> StepOutput:
        """One training (``stage="train"``) or validation (``"val"``) step on a labelled batch.

        The default is ``loss(model(inputs), targets)``. Override it for models whose training is not
        that: a detector that returns a loss dict in training and boxes in evaluation, a VAE, a
        diffusion model, contrastive views, a recommender that samples negatives.
        """
        inputs, targets = batch
        outputs = model(inputs)
        return StepOutput(self.loss(outputs, targets, state), outputs, targets, batch_size=_batch_size(targets))

    def parameter_groups(self, model: nn.Module, config: TrainConfig) -> list[dict[str, Any]] | None:
        """Optimiser parameter groups, each with its own ``lr`` (a new head learning faster than a
        pretrained body), or None for one group at ``config.lr``."""
        return None

    def training_callbacks(self, config: TrainConfig) -> list[Callback]:
        """Extra Lightning callbacks (fine-tuning schedules and the like)."""
        return []

    def validation_metrics(self, state: dict[str, Any]):
        """A torchmetrics ``MetricCollection`` updated with ``(outputs, targets)`` of each
        validation step, or None."""
        return None

    # ------------------------------------------------------------ evaluation
    def evaluator(self, data: PreparedData, config: TrainConfig) -> Evaluator:
        """A fresh streaming evaluator of the test split (see :mod:`torchworks.evaluation`).

        The default keeps every batch and calls :meth:`evaluate` once at the end; override this to
        keep only metric states when test sets are large.
        """
        return CollectingEvaluator(lambda outputs, targets: self.evaluate(outputs, targets, data, config))

    def evaluate(self, outputs: Any, targets: Any, data: PreparedData, config: TrainConfig) -> Evaluation:
        """Metrics, figures and tables for all test-set outputs at once (used by the default
        :meth:`evaluator`)."""
        raise NotImplementedError(f"{type(self).__name__} implements neither evaluate() nor evaluator()")

    def baselines(self, data: PreparedData, config: TrainConfig) -> dict[str, dict[str, Any]]:
        """Classical baselines fitted on the same split: ``{name: metrics}``."""
        return {}

    def baseline_advice(self, config: TrainConfig) -> list[str]:
        """What to try, given ``config``, when a baseline beats the model: short phrases naming the
        setting, e.g. ``["a smaller model (model=smallcnn)", "more epochs (epochs=30)"]``. Shown
        after the run's verdict (:mod:`torchworks.engine.verdict`); none by default."""
        return []

    def calibrate(self, model: nn.Module, data: PreparedData, config: TrainConfig) -> None:
        """Choose what is read off the trained model rather than trained, recording it in ``data.state``:
        a decision threshold for a target precision on the validation split, the distribution of anomaly
        scores on the training rows. Called once after training, the best weights in ``model`` (on the
        CPU, in eval mode), before the test evaluation, which then sees the choice. Nothing by default."""

    def data_choices(self, config: TrainConfig, data: PreparedData) -> dict[str, Resolved]:
        """Settings left unset that this run's data decided: columns found by name
        (``{"text": Resolved("body")}``), a model chosen for the data's size (with its reason).

        The engine prints them after ``prepare_data`` and records them in the run's config, so that
        evaluate, predict, export and resume rebuild the same model. None by default.
        """
        return {}

    # --------------------------------------------------------------- predict
    @abstractmethod
    def predict_inputs(self, inputs: Sequence[Any], state: dict[str, Any]) -> tuple[Dataset, list[Any]]:
        """Turn user inputs (paths, folders, CSVs, in-memory objects) into a dataset of model
        inputs and one id per item (a path, or whatever ``format_predictions`` needs to describe
        the item). Bad inputs raise :class:`~torchworks.errors.DataError`.

        A file that cannot be read goes through :func:`torchworks.bad_inputs.pass_over` when it is
        read here (it is then skipped and recorded while the engine predicts with
        ``bad_files=skip``), or raises ``DataError`` naming it from the dataset's ``__getitem__``
        when items are decoded lazily; either way predict writes an error row in its place."""

    @abstractmethod
    def format_predictions(self, outputs: Any, ids: list[Any], state: dict[str, Any],
                           top_k: int) -> list[dict[str, Any]]:
        """JSON-ready records for the joined outputs of ``ids``' items (in the model's output
        structure): one per input, or one per input and step for sequence outputs."""

    def prediction_runner(self, model: Any, state: dict[str, Any]) -> Any:
        """What predict runs on each batch of :meth:`predict_inputs` items, given the model (a module,
        or an export's runner from CPU inputs to outputs) and the state with the prediction options:
        the model itself by default. A task that predicts a large input piecewise (segmentation's
        sliding window with ``tile=``) returns a callable that runs the model on the pieces and returns
        the batch's outputs, in a structure its :meth:`reduce_outputs` and :meth:`format_predictions`
        take."""
        return model

    def reduce_outputs(self, outputs: Any, state: dict[str, Any]) -> Any:
        """One prediction batch's outputs reduced to what :meth:`format_predictions` needs, as they
        are held until the last batch: a task whose raw outputs are large (a detector's dense maps,
        ~80 KB an image) keeps the decoded boxes, so that thousands of video frames fit in memory. The
        result must join across batches like outputs (:func:`torchworks.batches.join_batches`).
        Unchanged by default."""
        return outputs

    def csv_rows(self, record: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The CSV rows of one readable record (plain cells), or None for the engine's generic
        flattening (one row per record). A task whose record holds a list of things, each worth a row
        (a detector's boxes), returns one row per element, the record's own fields repeated."""
        return None

    def prediction_stream(self, inputs: Sequence[Any], state: dict[str, Any], batch_size: int
                          ) -> PredictionStream | None:
        """Batches of model inputs for ``inputs`` too large to hold as records (a Parquet file of millions
        of rows), when predictions go to a file: predict then runs the model on each batch and writes the
        task's :meth:`prediction_table` of it at once, so memory holds one batch whatever the input's
        size. None (the default) predicts through records. Bad inputs raise
        :class:`~torchworks.errors.DataError` when their batch is read; nothing is then written."""
        return None

    def prediction_table(self, outputs: Any, context: Any, state: dict[str, Any]) -> Any:
        """One streamed batch's predictions as an Arrow table (or a pandas DataFrame): a row per input row,
        in order, plain columns; ``context`` is what :meth:`prediction_stream` gave with the batch."""
        raise NotImplementedError(f"{type(self).__name__} streams predictions but makes no prediction_table")

    def companion_paths(self, output: Path) -> list[Path]:
        """The files or folders :meth:`write_companions` may create beside the predictions file
        ``output``: predict refuses to start, before any work, when one exists and ``--force`` is not
        given. None by default."""
        return []

    def write_companions(self, records: list[dict[str, Any]], output: Path, state: dict[str, Any]) -> list[Path]:
        """Write what else a person looks at beside the predictions file ``output`` (annotated images,
        an annotated video), after it, only at :meth:`companion_paths`, each atomically; return the
        paths written. ``records`` are predict's, error rows included; ``state`` holds the prediction
        options. Nothing by default."""
        return []

    # -------------------------------------------------------------- bundle
    def bundle_files(self, model: nn.Module, state: dict[str, Any], config: TrainConfig) -> dict[str, bytes]:
        """Files the bundle keeps beside the weights, by plain lower-case name with a suffix
        (``{"item_index.faiss": ...}``): what the trained model answers with that is not a weight of
        its own, such as a nearest-neighbour index over its item embeddings. Called once after
        training, the best weights in ``model`` (on the CPU, in eval mode), before ``state`` is
        written: a task may record there what it measured of them. Never pickles. None by default."""
        return {}

    def open_bundle_files(self, model: nn.Module, files: dict[str, bytes], state: dict[str, Any]) -> None:
        """Take the files :meth:`bundle_files` wrote (sizes and hashes checked) when a bundle is loaded,
        before anything is predicted: every mode that loads a bundle calls it, with ``{}`` for a bundle
        that has none. Bad contents raise :class:`~torchworks.errors.BundleError`. Nothing by default."""

    # ------------------------------------------------------------- recipes
    @abstractmethod
    def quickstart_settings(self) -> dict[str, Any]:
        """Settings of the built-in recipe run by ``torchworks quickstart``."""


def _batch_size(targets: Any) -> int:
    from torchworks.batches import count_rows

    try:
        return count_rows(targets)
    except TypeError:
        return 1
