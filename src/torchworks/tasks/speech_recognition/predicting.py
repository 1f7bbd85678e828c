"""What to transcribe (files and folders of audio) and the records that come out. Clips longer
than the model's ``max_seconds`` are cut at the quietest moment near each limit, transcribed in
pieces and stitched back together."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict

from torchworks.errors import DataError
from torchworks.tasks.speech_recognition.audio import BadAudio, is_audio_file, load_audio
from torchworks.tasks.speech_recognition.data import SpeechDataset
from torchworks.tasks.speech_recognition.decoding import decode, lexicon_of
from torchworks.tasks.speech_recognition.vocabulary import Vocabulary
from torchworks.uploads import Upload

_SEARCH_SECONDS = 3.0  # how far back from a piece's limit to look for a pause
_FRAME_SECONDS = 0.02


class Transcript(BaseModel):
    """One file's transcript, its length in seconds, how many pieces it was cut into, the decoder."""

    model_config = ConfigDict(extra="forbid")

    input: str
    transcript: str
    seconds: float
    pieces: int
    decoder: str


def audio_inputs(inputs: Sequence[Any], state: dict[str, Any]) -> tuple[SpeechDataset, list[dict[str, Any]]]:
    """The clips of ``inputs`` cut into pieces, and per piece which file and which piece it is."""
    rate = state["sample_rate"]
    pieces, origins = [], []
    for clip, source in enumerate(_files(inputs)):
        name = source.name if isinstance(source, Upload) else str(source)
        try:
            samples = load_audio(source, rate)
        except BadAudio as problem:
            raise DataError(f"cannot read audio '{name}'", expected="a WAV, FLAC, OGG or MP3 file",
                            got=str(problem), hint="fix or remove that file") from None
        parts = split_long(samples, rate, state["max_seconds"])
        for number, part in enumerate(parts):
            pieces.append(np.round(np.clip(part, -1, 1) * 32767).astype(np.int16))
            origins.append({"input": name, "clip": clip, "piece": number, "pieces": len(parts),
                            "seconds": round(len(samples) / rate, 2)})
    if not pieces:
        raise DataError("nothing to transcribe", expected="audio files or folders of them", got="no audio files")
    return SpeechDataset(pieces, None, state), origins


def _files(inputs: Sequence[Any]) -> list[Path | Upload]:
    files: list[Path | Upload] = []
    for item in inputs:
        if isinstance(item, Upload):
            files.append(item)
            continue
        path = Path(item).expanduser()
        if path.is_dir():
            files += [p for p in sorted(path.rglob("*")) if p.is_file() and is_audio_file(p)]
        elif path.exists():
            files.append(path)
        else:
            raise DataError(f"input '{item}' does not exist", expected="an audio file or a folder of them",
                            got="no such file or folder", hint="check the path")
    return files


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
    """One record per file: the transcript (pieces joined), its length and the decoder used."""
    texts = decode(log_probs, Vocabulary(state["tokens"]), method, beam_width, lexicon_of(state))
    records: dict[int, dict[str, Any]] = {}
    for origin, text in zip(origins, texts):
        record = records.setdefault(origin["clip"], {"input": origin["input"], "transcript": "",
                                                      "seconds": origin["seconds"], "pieces": origin["pieces"],
                                                      "decoder": method})
        record["transcript"] = " ".join(part for part in (record["transcript"], text) if part)
    return list(records.values())
