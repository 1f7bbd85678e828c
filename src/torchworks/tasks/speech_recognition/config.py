"""Settings of the speech-recognition task (on top of the engine's :class:`TrainConfig`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from torchworks.config.schema import TrainConfig

LEXICON_CHOICES = ("auto", "training", "none")
# Per model family, what a setting left out becomes. Batches of 32 give CTC enough steps per epoch on a
# thousand clips to leave the all-blank phase within a few epochs; clipping keeps its early spikes harmless.
# The crnn hops 7.5 ms (30 ms output frames): fast speech needs nearly a frame per character, and on
# spoken-digits this halved the errors on unseen fast voices for about the same training time.
_RECIPES: dict[str, dict[str, Any]] = {
    "crnn": {"epochs": 25, "batch_size": 32, "lr": 2e-3, "grad_clip": 5.0, "hidden": 192, "layers": 2,
             "hop_ms": 7.5},
    "conformer": {"epochs": 30, "batch_size": 32, "lr": 1.5e-3, "grad_clip": 5.0, "hidden": 144, "layers": 4},
}


class SpeechRecognitionConfig(TrainConfig):
    """Audio, features, augmentation, model and decoding settings of a speech-recognition run."""

    setting_groups: ClassVar[dict[str, tuple[str, ...]]] = {  # sections of `torchworks settings`
        "data": ("path_column", "transcript_column", "sample_rate", "n_mels", "window_ms", "hop_ms", "max_seconds",
                  "bad_files", "unknown_chars"),
        "model": ("model", "time_stride", "hidden", "layers", "heads", "dropout"),
        "training": ("spec_augment", "freq_mask", "time_mask", "masks", "speed_perturb", "noise"),
        "prediction": ("decoder", "beam_width", "lexicon"),
    }

    model: Literal["crnn", "conformer"] = Field("crnn", description="crnn (CNN + BiGRU) or conformer; CTC head.")
    path_column: str = Field("path", description="Manifest column with audio file paths.")
    transcript_column: str = Field("transcript", description="Manifest column with transcripts.")
    sample_rate: int = Field(16_000, ge=4000, le=96_000, description="Audio is resampled to this rate.")
    n_mels: int = Field(64, ge=16, le=256, description="Mel bands of the log-mel features.")
    window_ms: float = Field(25.0, gt=2, le=200, description="Analysis window in milliseconds.")
    hop_ms: float = Field(10.0, gt=1, le=100, description="Hop between feature frames in milliseconds (crnn: 7.5).")
    max_seconds: float = Field(20.0, gt=0, le=600, description="Longer training clips are skipped and reported.")
    bad_files: Literal["skip", "fail"] = Field("skip", description="Unreadable, empty or silent clips: skip or fail.")
    unknown_chars: Literal["drop", "skip", "fail"] = Field(
        "skip", description="Transcript characters outside [a-z' ] and digits: drop them, skip the clip, or fail."
    )
    spec_augment: bool = Field(True, description="Frequency and time masking while training.")
    freq_mask: int = Field(12, ge=0, le=128, description="Widest frequency mask (mel bands).")
    time_mask: int = Field(25, ge=0, le=400, description="Widest time mask (frames).")
    masks: int = Field(2, ge=0, le=10, description="Masks of each kind per clip.")
    speed_perturb: float = Field(0.1, ge=0, le=0.3, description="Random speed change of +-this share while training.")
    noise: float = Field(0.3, ge=0, le=1, description="Share of training clips with added noise (SNR 10-40 dB).")
    time_stride: int = Field(
        4, description="Feature frames merged per output frame: 4 gives 30-40 ms frames (at a 7.5-10 ms hop; CTC "
        "needs about a frame per character), 2 gives 15-20 ms frames for very fast speech.")
    hidden: int = Field(192, ge=16, le=2048, description="Recurrent or conformer width (conformer: 144).")
    layers: int = Field(2, ge=1, le=24, description="Recurrent or conformer layers (conformer: 4).")
    heads: int = Field(4, ge=1, le=32, description="Attention heads (conformer).")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout inside the network.")
    decoder: Literal["greedy", "beam"] = Field("beam", description="Decoding used for predictions and wer.")
    beam_width: int = Field(16, ge=1, le=1000, description="Hypotheses kept by beam search.")
    lexicon: str = Field(
        "auto", description="Words beam search may write: auto (the training words when every validation word "
        "is among them, a closed vocabulary such as digits or commands; else none), training, none, or a file "
        "with one word per line.")

    @model_validator(mode="before")
    @classmethod
    def _recipe_defaults(cls, values: Any) -> Any:
        """Fill epochs, batch size, lr, clipping and network size from the model's recipe where not given."""
        if not isinstance(values, dict):
            return values
        recipe = _RECIPES.get(str(values.get("model") or "crnn"), _RECIPES["crnn"])
        return {**recipe, **values}

    @field_validator("time_stride")
    @classmethod
    def _two_or_four(cls, value: int) -> int:
        if value not in (2, 4):
            raise ValueError("2 or 4")
        return value

    @field_validator("lexicon")
    @classmethod
    def _known_lexicon(cls, value: str) -> str:
        if value not in LEXICON_CHOICES and not Path(value).expanduser().is_file():
            raise ValueError(f"{', '.join(LEXICON_CHOICES)} or an existing word-list file")
        return value

    @model_validator(mode="after")
    def _check_heads(self) -> SpeechRecognitionConfig:
        if self.model == "conformer" and self.hidden % self.heads:
            raise ValueError(f"hidden={self.hidden} must be a multiple of heads={self.heads}")
        if self.hop_ms > self.window_ms:
            raise ValueError("hop_ms must not exceed window_ms")
        return self
