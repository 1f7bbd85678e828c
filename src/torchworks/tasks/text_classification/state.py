"""What a text-classification bundle keeps: labels, tokenizer and encoder settings (no torch here)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from torchworks.tasks.state import TaskState


class TextClassificationState(TaskState):
    """The preprocessing state ``prepare_data`` fits on the training split."""

    labels: list[str] = Field(min_length=1, description="Label names, in the order of the model's outputs.")
    multi_label: bool = Field(description="True when a text may carry several labels (label_sep was set).")
    label_sep: str | None = Field(description="Separator of several labels in one cell, or None (single-label).")
    text_column: str = Field(description="Name of the text column of the training table.")
    pretrained: bool = Field(description="True when the model is a pretrained encoder with a new head.")
    threshold: float = Field(gt=0, lt=1, description="Multi-label: probability above which a label is on.")
    tokenizer: str = Field(description="The Hugging Face ``tokenizers`` JSON of the tokenizer.")
    max_length: int = Field(ge=1, description="Tokens per text; longer texts are truncated.")
    pad_id: int = Field(ge=0, description="Token id of padding.")
    vocab_size: int = Field(ge=1, description="Size of the tokenizer's vocabulary.")
    train_label_counts: dict[str, int] = Field(description="Training texts per label.")
    class_weights: list[float] | None = Field(description="Loss weight per label (class_weights=auto), or None.")
    encoder_config: dict[str, Any] | None = Field(
        None, description="Pretrained only: the encoder's config.json, to rebuild it without its folder.")
    pooling: Literal["mean", "cls"] | None = Field(
        None, description="Pretrained only: how token embeddings become one (mean, or the first token).")
    max_positions: int | None = Field(None, ge=1, description="Pretrained only: the encoder's longest input.")
