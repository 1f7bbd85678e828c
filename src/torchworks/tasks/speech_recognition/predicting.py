"""What to transcribe (files and folders of audio) and the records that come out. Clips longer
than the model's ``max_seconds`` are cut at the quietest moment near each limit, transcribed in
pieces and stitched back together."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict

from torchworks.bad_inputs import pass_over
from torchworks.errors import DataError
from torchworks.tasks.speech_recognition.audio import BadAudio, is_audio_file, load_audio
from torchworks.tasks.speech_recognition.data import SpeechDataset
from torchworks.tasks.speech_recognition.decoding import decode, greedy_confidence, lexicon_of
from torchworks.tasks.speech_recognition.vocabulary import Vocabulary
from torchworks.uploads import Upload

_SEARCH_SECONDS = 3.0  # how far back from a piece's limit to look for a pause
_FRAME_SECONDS = 0.02


class Transcript(BaseModel):
    """One file's transcript, how sure the model is of it (see :func:`~torchworks.tasks.speech_recognition.
    decoding.greedy_confidence`), its length in seconds, how many pieces it was cut into, the decoder."""

    model_config = ConfigDict(extra="forbid")

    input: str
    transcript: str
    confidence: float | None = None
    seconds: float
    pieces: int
    decoder: str


def audio_inputs(inputs: Sequence[Any], state: dict[str, Any]) -> tuple[SpeechDataset, list[dict[str, Any]]]:
    """The clips of ``inputs`` cut into pieces, and per piece which file and which piece it is. A
    file that cannot be read is passed over (:func:`~torchworks.bad_inputs.pass_over`)."""
    rate = state["sample_rate"]
    pieces, origins = [], []
    clip = 0
    for source, name in _sources(inputs):
        try:
            if isinstance(source, DataError):
                raise source
            samples = samples_of(source, name, rate)
        except DataError as error:
            pass_over(name, error, len(origins))
            continue
        parts = split_long(samples, rate, state["max_seconds"])
        for number, part in enumerate(parts):
            pieces.append(np.round(np.clip(part, -1, 1) * 32767).astype(np.int16))
            origins.append({"input": name, "clip": clip, "piece": number, "pieces": len(parts),
                            "seconds": round(len(samples) / rate, 2)})
        clip += 1
    if not pieces:
        raise DataError("nothing to transcribe", expected="audio files or folders of them", got="no audio files")
    return SpeechDataset(pieces, None, state), origins


def samples_of(source: Path | Upload | np.ndarray, name: str, rate: int) -> np.ndarray:
    """Mono float32 samples at ``rate``: a file or upload decoded and resampled, or an array taken as
    it is (1-D, at the model's rate; or samples x channels, averaged).

    Raises:
        DataError: An unreadable file, or an array that is not audio.
    """
    if isinstance(source, np.ndarray):
        return _array_samples(source, name)
    try:
        return load_audio(source, rate)
    except BadAudio as problem:
        raise DataError(f"cannot read audio '{name}'", expected="a WAV, FLAC, OGG or MP3 file",
                        got=str(problem), hint="fix or remove that file") from None


def _array_samples(array: np.ndarray, name: str) -> np.ndarray:
    if array.ndim == 2 and 0 < array.shape[1] <= 8:
        array = array.mean(axis=1)
    if array.ndim != 1 or array.size == 0 or not np.issubdtype(array.dtype, np.number):
        raise DataError(f"{name} is not a clip", expected="a 1-D float array of samples at the model's sample rate "
                        "(or samples x channels)", got=f"shape {array.shape}, dtype {array.dtype}",
                        hint="a batch of clips goes in as a list of arrays")
    if np.issubdtype(array.dtype, np.integer):  # 16-bit PCM and the like: scale to [-1, 1]
        array = array / float(np.iinfo(array.dtype).max)
    samples = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(samples).all():
        raise DataError(f"{name} holds non-finite samples", expected="finite samples in [-1, 1]", got="NaN or inf")
    return samples


def _sources(inputs: Sequence[Any]) -> Iterator[tuple[Path | Upload | np.ndarray | DataError, str]]:
    """``(source, name)`` per clip, in order; for an input that names nothing, the error instead."""
    for item in inputs:
        if isinstance(item, Upload):
            yield item, item.name
        elif isinstance(item, np.ndarray):
            yield item, f"<array {'x'.join(str(n) for n in item.shape)}>"
        elif not isinstance(item, (str, Path)):
            yield DataError("cannot transcribe this input", expected="an audio file, a folder of them, or a 1-D "
                            "float array of samples", got=type(item).__name__), f"<{type(item).__name__}>"
        elif (path := Path(item).expanduser()).is_dir():
            for inner in sorted(path.rglob("*")):
                if inner.is_file() and is_audio_file(inner):
                    yield inner, str(inner)
        elif path.exists():
            yield path, str(path)
        else:
            yield DataError(f"input '{item}' does not exist", expected="an audio file or a folder of them",
                            got="no such file or folder", hint="check the path"), str(item)


def split_long(samples: np.ndarray, rate: int, max_seconds: float) -> list[np.ndarray]:
    """Pieces no longer than ``max_seconds``, each cut at the quietest 20 ms within the last few
    seconds before its limit (a pause between words, where there is one)."""
    limit = int(max_seconds * rate)
    frame = max(1, int(_FRAME_SECONDS * rate))
    pieces, start = [], 0
    while len(samples) - start > limit:
        window_start = start + max(frame, limit - int(_SEARCH_SECONDS * rate))
        window = samples[window_start:start + limit]
        energy = np.convolve(window**2, np.ones(frame), mode="valid")
        cut = window_start + int(np.argmin(energy)) + frame // 2
        pieces.append(samples[start:cut])
        start = cut
    pieces.append(samples[start:])
    return pieces


def transcript_records(log_probs: torch.Tensor, origins: list[dict[str, Any]], state: dict[str, Any],
                       method: str, beam_width: int) -> list[dict[str, Any]]:
    """One record per file: the transcript (pieces joined), its confidence (the mean peak probability
    of the characters the greedy path writes; see :func:`greedy_confidence`), its length and the
    decoder used."""
    texts = decode(log_probs, Vocabulary(state["tokens"]), method, beam_width, lexicon_of(state))
    records: dict[int, dict[str, Any]] = {}
    evidence: dict[int, tuple[list[float], float, int]] = {}
    for origin, text, (peaks, blank, frames) in zip(origins, texts, greedy_confidence(log_probs)):
        record = records.setdefault(origin["clip"], {"input": origin["input"], "transcript": "", "confidence": None,
                                                      "seconds": origin["seconds"], "pieces": origin["pieces"],
                                                      "decoder": method})
        record["transcript"] = " ".join(part for part in (record["transcript"], text) if part)
        so_far = evidence.get(origin["clip"], ([], 0.0, 0))
        evidence[origin["clip"]] = (so_far[0] + peaks, so_far[1] + blank, so_far[2] + frames)
    for clip, (peaks, blank, frames) in evidence.items():
        value = sum(peaks) / len(peaks) if peaks else (blank / frames if frames else 0.0)
        records[clip]["confidence"] = round(value, 4)
    return list(records.values())
