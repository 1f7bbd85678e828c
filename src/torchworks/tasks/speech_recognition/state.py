"""What a speech-recognition bundle keeps: characters, features, decoding and lexicon (no torch here)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from torchworks.tasks.state import TaskState


class SpeechRecognitionState(TaskState):
    """The vocabulary and feature parameters ``prepare_data`` fixes from the config and training split."""

    tokens: list[str] = Field(min_length=2, description="Output tokens: the CTC blank, the word separator, characters.")
    max_seconds: float = Field(gt=0, description="Longer clips are cut into pieces at prediction time.")
    decoder: Literal["greedy", "beam"] = Field(description="Decoding used for predictions by default.")
    beam_width: int = Field(ge=1, description="Hypotheses kept by beam search.")
    sample_rate: int = Field(ge=1, description="Audio is resampled to this rate (Hz).")
    n_mels: int = Field(ge=1, description="Mel bands of the log-mel features.")
    win_length: int = Field(ge=1, description="Window of the spectrogram, in samples.")
    hop_length: int = Field(ge=1, description="Step between feature frames, in samples.")
    n_fft: int = Field(ge=1, description="FFT size of the spectrogram.")
    training_words: list[str] = Field(description="Every word of the training transcripts, sorted.")
    closed_vocabulary: bool = Field(description="True when validation used no word unseen in training.")
    lexicon: list[str] | None = Field(description="Words beam search may spell, or None for any spelling.")
