"""Decoding audio files: any rate and channel count in, mono float32 at the model's rate out."""

from __future__ import annotations

import functools
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
    """``samples`` at ``target`` Hz (torchaudio's band-limited sinc interpolation)."""
    if rate == target:
        return np.ascontiguousarray(samples, dtype=np.float32)
    import torch

    with torch.inference_mode():
        return _resampler(rate, target)(torch.from_numpy(np.ascontiguousarray(samples))).numpy().astype(np.float32)


@functools.lru_cache(maxsize=8)
def _resampler(rate: int, target: int):
    # The module form of torchaudio.functional.resample: it builds the sinc kernel once; rebuilding it
    # on every call (22.05 to 16 kHz) costs about 20 times the filtering itself.
    import torchaudio

    return torchaudio.transforms.Resample(rate, target)


def is_silent(samples: np.ndarray) -> bool:
    """No sample louder than about -80 dBFS: nothing to transcribe."""
    return float(np.abs(samples).max(initial=0.0)) < SILENCE_PEAK
