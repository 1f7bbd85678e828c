"""The Task interface: everything the engine needs from a kind of problem, and nothing more.

A task is a plugin (one folder under ``tasks/``) registered with :func:`torchworks.tasks.register_task`.
The engine wraps it in Lightning; modes never look at the task's name, only at this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from torchworks.config.schema import TrainConfig

if TYPE_CHECKING:  # heavy imports only for type checkers; the CLI must start fast
    import torch
    from lightning.pytorch import Callback
    from matplotlib.figure import Figure
    from torch import nn
    from torch.utils.data import Dataset


@dataclass
class PreparedData:
    """Validated datasets for one run, plus the preprocessing state that goes into the bundle.

    Attributes:
        train: Training dataset yielding ``(inputs, targets)`` pairs.
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


@dataclass
class Evaluation:
    """What a task makes of model outputs on the test set.

    Attributes:
        metrics: Flat JSON-ready metrics; the task's ``primary_metric`` must be among them.
        figures: Named matplotlib figures for ``plots/`` and the report.
        tables: Named lists of row dicts shown as tables in the report.
    """

    metrics: dict[str, Any]
    figures: dict[str, Figure] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class Explanation:
    """Why the model answered what it did for one input.

    Attributes:
        record: JSON-ready facts: ``input``, ``prediction``, ``method``, ``target`` and
            ``attributions`` (whose shape is the task's: a pixel map, token scores, lag-by-feature
            contributions, per-frame saliency). The same dict is what a REST answer carries.
        figures: Named pictures of the attributions: matplotlib figures or PNG bytes.
        html: An optional HTML fragment (highlighted tokens), shown with the figures.
        summary: One line for a person: the prediction and what weighed most.
    """

    record: dict[str, Any]
    figures: dict[str, Figure | bytes] = field(default_factory=dict)
    html: str | None = None
    summary: str = ""


@dataclass(frozen=True)
class ServingSpec:
    """How the server and its web page take a task's inputs and describe its predictions.

    Attributes:
        input_kind: ``"image"``, ``"audio"``, ``"text"`` or ``"table"``: the widget the page shows.
        file_types: Suffixes a request may upload (``".png"``); a task that takes only JSON has none.
        json_item: The type of one element of a JSON request's ``inputs`` (validated, and shown in
            the OpenAPI schema), or None when inputs are files (JSON then carries them base64-encoded).
        record: The pydantic model of one prediction record.
        example: One JSON input for the docs and the page, or None.
        options: The ``prediction_options`` a request may set (none that names a local file).
    """

    input_kind: str
    file_types: tuple[str, ...]
    json_item: Any
    record: type
    example: Any = None
    options: tuple[str, ...] = ()


class Task(ABC):
    """A kind of problem: data, model, loss, metrics, predictions, recipes."""

    name: ClassVar[str]
    description: ClassVar[str]
    config_class: ClassVar[type[TrainConfig]] = TrainConfig
    modes: ClassVar[tuple[str, ...]] = ("train", "evaluate", "predict")
    primary_metric: ClassVar[str]
    higher_is_better: ClassVar[bool] = True
    # config fields a prediction may override (``--decoder greedy``): they shape outputs, not inputs
    prediction_options: ClassVar[tuple[str, ...]] = ()
    # attribution methods ``explain`` offers, the default first; none: this task cannot explain
    explain_methods: ClassVar[tuple[str, ...]] = ()
    # settings an explanation may take besides method and target (``steps``, ``layer``...)
    explain_options: ClassVar[tuple[str, ...]] = ()

    def require_mode(self, mode: str) -> None:
        """Raise ConfigError unless this task declares ``mode``."""
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

    def collate_fn(self):
        """A DataLoader collate function, or None for PyTorch's default."""
        return None

    # ---------------------------------------------------------------- model
    @abstractmethod
    def build_model(self, config: TrainConfig, state: dict[str, Any], *, for_training: bool) -> nn.Module:
        """The network. ``for_training`` is False when weights come from a bundle, so nothing
        pretrained is fetched."""

    @abstractmethod
    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, state: dict[str, Any]) -> torch.Tensor:
        """The training loss of one batch."""

    def parameter_groups(self, model: nn.Module, config: TrainConfig) -> list[dict[str, Any]] | None:
        """Optimiser parameter groups, each with its own ``lr`` (a new head learning faster than a
        pretrained body), or None for one group at ``config.lr``."""
        return None

    def training_callbacks(self, config: TrainConfig) -> list[Callback]:
        """Extra Lightning callbacks (fine-tuning schedules and the like)."""
        return []

    def validation_metrics(self, state: dict[str, Any]):
        """A torchmetrics ``MetricCollection`` updated with ``(outputs, targets)`` on validation."""
        return None

    # ------------------------------------------------------------ evaluation
    @abstractmethod
    def evaluate(
        self, outputs: torch.Tensor, targets: torch.Tensor, data: PreparedData, config: TrainConfig
    ) -> Evaluation:
        """Metrics, figures and tables for the test-set outputs."""

    def baselines(self, data: PreparedData, config: TrainConfig) -> dict[str, dict[str, Any]]:
        """Classical baselines fitted on the same split: ``{name: metrics}``."""
        return {}

    # --------------------------------------------------------------- predict
    @abstractmethod
    def predict_inputs(self, inputs: Sequence[Any], state: dict[str, Any]) -> tuple[Dataset, list[Any]]:
        """Turn user inputs (paths, folders, CSVs, in-memory objects) into a dataset of model
        inputs and one id per item (a path, or whatever ``format_predictions`` needs to describe
        the item). Bad inputs raise :class:`~torchworks.errors.DataError`."""

    @abstractmethod
    def format_predictions(
        self, outputs: torch.Tensor, ids: list[Any], state: dict[str, Any], top_k: int
    ) -> list[dict[str, Any]]:
        """JSON-ready records: one per input, or one per input and step for sequence outputs."""

    @abstractmethod
    def example_input(self, state: dict[str, Any]) -> Any:
        """A small batch of model inputs (a tensor, or a dict of tensors), for export and contract tests."""

    def dynamic_axes(self, state: dict[str, Any]) -> dict[str, dict[int, str]]:
        """Per input of ``example_input`` (``"input"`` for a lone tensor), the axes whose size varies
        between batches, for exports. The batch axis by default; sequence tasks add their length."""
        example = self.example_input(state)
        names = list(example) if isinstance(example, dict) else ["input"]
        return {name: {0: "batch"} for name in names}

    # -------------------------------------------------------------- explain
    def explain(self, model: nn.Module, inputs: Any, ids: list[Any], state: dict[str, Any], method: str,
                target: str | None, options: dict[str, str]) -> list[Explanation]:
        """Attributions for one batch of model inputs (as ``collate_fn`` makes them from
        ``predict_inputs``' dataset), one :class:`Explanation` per input.

        The engine calls this with the model in eval mode, gradients enabled and its parameters
        frozen; ``method`` is one of ``explain_methods``, ``options`` keys are among
        ``explain_options`` (values as given, usually text). ``target`` names what to explain (a
        class label, a forecast step, a transcript); None means the model's own prediction.

        Raises:
            ConfigError: A target or option value this model cannot use.
        """
        from torchworks.errors import ConfigError

        raise ConfigError(f"{self.name} models cannot be explained", expected="a task with explain methods",
                          got="none declared", hint="predict instead, or explain a model of another task")

    # ---------------------------------------------------------------- serve
    def serving(self, state: dict[str, Any]) -> ServingSpec | None:
        """How a model of this task is served (see :class:`ServingSpec`), or None when it cannot be.
        ``predict_inputs`` must then also read :class:`~torchworks.uploads.Upload` items."""
        return None

    def from_json(self, item: Any, state: dict[str, Any]) -> Any:
        """One validated JSON input (of type ``serving(state).json_item``) as something
        ``predict_inputs`` reads. Never a path: a request must not name local files."""
        return item

    # ------------------------------------------------------------- recipes
    @abstractmethod
    def quickstart_settings(self) -> dict[str, Any]:
        """Settings of the built-in recipe run by ``torchworks quickstart``."""
