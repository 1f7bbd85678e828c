"""The engine's own config fields, shared by every task. Tasks subclass :class:`TrainConfig`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TrainConfig(BaseModel):
    """Settings every task understands. A task adds its own fields by subclassing.

    Unknown keys are rejected (``extra="forbid"``); the loader turns that into a did-you-mean hint.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())

    #: The sections of ``torchworks settings TASK`` (and ``train TASK --help``), in order, and the
    #: settings in each; a task's config lists its own fields the same way (merged with these).
    HELP_GROUPS: ClassVar[tuple[str, ...]] = ("data", "model", "training", "prediction", "run")
    setting_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "data": ("data", "val_fraction", "test_fraction", "num_workers"),
        "training": ("epochs", "batch_size", "lr", "weight_decay", "optimizer", "scheduler", "patience",
                     "grad_clip", "ema", "max_minutes", "seed", "device", "precision"),
        "run": ("name", "output", "resume", "keep_checkpoints", "mlflow", "baselines", "progress"),
    }

    @classmethod
    def grouped_settings(cls) -> dict[str, list[str]]:
        """Every field by help group (``HELP_GROUPS``, then ``"other"`` for fields no class groups):
        required fields first, then the task's own, then the engine's."""
        declared: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            for group, names in vars(klass).get("setting_groups", {}).items():
                declared.update(dict.fromkeys(names, group))
        fields = cls.model_fields
        common = TrainConfig.model_fields
        order = sorted(fields, key=lambda name: (not fields[name].is_required(), name in common))
        groups: dict[str, list[str]] = {group: [] for group in (*cls.HELP_GROUPS, "other")}
        for name in order:
            groups[declared.get(name, "other")].append(name)
        return {group: names for group, names in groups.items() if names}

    @model_validator(mode="before")
    @classmethod
    def _renamed_settings(cls, values: Any) -> Any:
        """Bundles written before ``track`` (log to MLflow) was renamed ``mlflow`` still load; a task may
        now use ``track`` for its own setting (object tracking in video)."""
        if isinstance(values, dict) and "track" in values and "track" not in cls.model_fields:
            values = {**values}
            values.setdefault("mlflow", values.pop("track"))
        return values

    data: str = Field(description="A sample dataset name (`torchworks data list`) or a path.")
    name: str | None = Field(None, description="Run name; a free name is chosen when it exists.")
    output: Path = Field(Path("runs"), description="Root folder for runs: output/<task>/<name>.")
    epochs: int = Field(10, ge=1, le=100_000, description="Maximum number of training epochs.")
    batch_size: int = Field(64, ge=1, le=65_536, description="Samples per optimisation step; when unset, smaller "
                            "for a training split too small to make 8 steps an epoch.")
    lr: float = Field(1e-3, gt=0, le=10.0, description="Peak learning rate.")
    weight_decay: float = Field(1e-4, ge=0, le=1.0, description="AdamW/SGD weight decay.")
    optimizer: Literal["adamw", "adam", "sgd"] = Field("adamw", description="Optimiser.")
    scheduler: Literal["cosine", "none"] = Field("cosine", description="Learning-rate schedule.")
    seed: int = Field(42, ge=0, description="Seed for splits, shuffling, augmentation and init.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="auto: a GPU when there is one.")
    precision: Literal["auto", "32", "bf16-mixed", "16-mixed"] = Field(
        "auto", description="auto: bf16-mixed on a GPU that supports it, else 32."
    )
    num_workers: int = Field(0, ge=0, le=64, description="DataLoader worker processes.")
    patience: int = Field(0, ge=0, description="Early stopping patience in epochs; 0 turns it off.")
    max_minutes: float = Field(0.0, ge=0, description="Train for as many epochs as fit in this many minutes "
                               "(training and validation, timed per epoch; epochs at most), the learning-rate "
                               "schedule fitted to them; 0 turns it off.")
    grad_clip: float = Field(0.0, ge=0, description="Clip gradient norm to this value; 0 turns it off.")
    ema: float = Field(0.0, ge=0, lt=1, description="Decay of an exponential moving average of the weights "
                       "(0.999 is usual), used for validation and kept as the model; 0 turns it off.")
    resume: bool = Field(False, description="Resume the named (or latest unfinished) run.")
    keep_checkpoints: Literal["none", "last", "best", "all"] = Field(
        "none", description="Checkpoints kept once the run finishes (the bundle holds the weights): "
        "none, last, best or all. While it trains, last.ckpt is kept for resume=true."
    )
    mlflow: bool = Field(True, description="Log the run to MLflow (runs/mlflow.db unless MLFLOW_TRACKING_URI says otherwise).")
    val_fraction: float = Field(0.15, gt=0, lt=0.9, description="Share held out for validation.")
    test_fraction: float = Field(0.15, gt=0, lt=0.9, description="Share held out for testing.")
    baselines: bool = Field(True, description="Fit the classical baseline on the same split.")
    progress: bool = Field(True, description="Show progress bars.")
