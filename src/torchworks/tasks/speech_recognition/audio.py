"""Decoding audio files: any rate and channel count in, mono float32 at the model's rate out."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from torchworks.uploads import Upload

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif")
SILENCE_PEAK = 1e-4


class BadAudio(Exception):
    """A file that cannot be used as audio; the message says why in a few words."""


def is_audio_file(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_SUFFIXES


def load_audio(source: Path | Upload, sample_rate: int) -> np.ndarray:
    """Mono float32 samples at ``sample_rate`` from a file or an uploaded file's bytes.

    Raises:
        BadAudio: missing, 0 bytes, not decodable as audio, no samples, or non-finite samples.
    """
    import soundfile as sf

    if isinstance(source, Upload):
        size, readable = len(source.data), io.BytesIO(source.data)
    elif not source.is_file():
        raise BadAudio("no such file")
    else:
        size, readable = source.stat().st_size, str(source)
    if size == 0:
        raise BadAudio("an empty file (0 bytes)")
    try:
        samples, rate = sf.read(readable, dtype="float32", always_2d=True)
    except Exception as error:  # noqa: BLE001  (libsndfile reports every bad file its own way)
        raise BadAudio(f"not a readable audio file ({str(error).splitlines()[0][:120]})") from None
    if samples.shape[0] == 0:
        raise BadAudio("no audio samples")
    mono = samples.mean(axis=1)
    if not np.isfinite(mono).all():
        raise BadAudio("non-finite samples")
    return resample(mono, rate, sample_rate)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``samples`` at ``target`` Hz (band-limited sinc interpolation from torchaudio)."""
    if rate == target:
        return np.ascontiguousarray(samples, dtype=np.float32)
    import torch
    from torchaudio.functional import resample as sinc_resample

    return sinc_resample(torch.from_numpy(np.ascontiguousarray(samples)), rate, target).numpy().astype(np.float32)


def is_silent(samples: np.ndarray) -> bool:
    """No sample louder than about -80 dBFS: nothing to transcribe."""
    return float(np.abs(samples).max(initial=0.0)) < SILENCE_PEAK
