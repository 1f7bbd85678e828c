"""Settings of the speech-recognition task (on top of the engine's :class:`TrainConfig`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from torchworks.config.schema import TrainConfig


class SpeechRecognitionConfig(TrainConfig):
    """Audio, features, augmentation, model and decoding settings of a speech-recognition run."""

    model: Literal["crnn", "conformer"] = Field("crnn", description="crnn (CNN + BiGRU) or conformer; CTC head.")
    path_column: str = Field("path", description="Manifest column with audio file paths.")
    transcript_column: str = Field("transcript", description="Manifest column with transcripts.")
    sample_rate: int = Field(16_000, ge=4000, le=96_000, description="Audio is resampled to this rate.")
    n_mels: int = Field(64, ge=16, le=256, description="Mel bands of the log-mel features.")
    window_ms: float = Field(25.0, gt=2, le=200, description="Analysis window in milliseconds.")
    hop_ms: float = Field(10.0, gt=1, le=100, description="Hop between feature frames in milliseconds.")
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
    hidden: int = Field(192, ge=16, le=2048, description="Recurrent or conformer width.")
    layers: int = Field(3, ge=1, le=24, description="Recurrent or conformer layers.")
    heads: int = Field(4, ge=1, le=32, description="Attention heads (conformer).")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout inside the network.")
    decoder: Literal["greedy", "beam"] = Field("beam", description="Decoding used for predictions and wer.")
    beam_width: int = Field(16, ge=1, le=1000, description="Hypotheses kept by beam search.")

    @model_validator(mode="after")
    def _check_heads(self) -> SpeechRecognitionConfig:
        if self.model == "conformer" and self.hidden % self.heads:
            raise ValueError(f"hidden={self.hidden} must be a multiple of heads={self.heads}")
        if self.hop_ms > self.window_ms:
            raise ValueError("hop_ms must not exceed window_ms")
        return self
