"""The settings every table task shares: column kinds declared by name, ids carried to predictions, and how
many rows train."""

from __future__ import annotations

from pydantic import Field, field_validator

from torchworks.config.schema import TrainConfig


def comma_list(value: object) -> object:
    """``"a,b"`` -> ``["a", "b"]`` (a list is kept)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class TableColumnsConfig(TrainConfig):
    """The column settings every table task shares: kinds declared by name and how many rows train."""

    categorical: list[str] = Field(default_factory=list, description="Columns to read as categories "
                                   "(comma-separated), whatever they look like (zip codes, numbered grades).")
    numeric: list[str] = Field(default_factory=list, description="Columns to read as numbers.")
    drop: list[str] = Field(default_factory=list, description="Columns the model must not read.")
    id: list[str] = Field(default_factory=list, description="Id columns: never read by the model, copied into "
                          "each prediction so rows can be joined back.")
    max_rows: int = Field(1_000_000, ge=100, le=100_000_000, description="Training reads at most this many rows, "
                          "drawn uniformly from the whole file (which is streamed, never loaded whole).")
    max_categories: int = Field(256, ge=2, le=100_000, description="Most frequent values of a categorical column "
                                "that get their own embedding; rarer and unseen values share an 'unknown' one.")

    @field_validator("categorical", "numeric", "drop", "id", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return comma_list(value)

    @field_validator("model", check_fields=False)
    @classmethod
    def _model_name(cls, value: str) -> str:
        """``FT-Transformer``, ``deep-svdd`` -> ``ft_transformer``, ``deep_svdd`` (each task declares ``model``)."""
        return value.strip().lower().replace("-", "_")
