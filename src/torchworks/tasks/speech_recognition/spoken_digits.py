"""Spoken digit sequences ("three seven one nine") synthesised with espeak-ng, for speech recognition.

Each clip is one to seven digit words in a random voice (an English accent combined with an
espeak-ng voice variant), speed, pitch and word gap, then given a random gain, leading and trailing
silence and, on most clips, white, pink or brown noise. The test split holds out whole voices: about
one accent+variant combination in seven is spoken only in test, and test speeds reach beyond the
training range, so a test score says how well a model copes with speakers it never heard. Everything is
drawn from the seed up front, so the same seed and ``n`` give the same clips on the same machine.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

import numpy as np

from torchworks.datasets import materialize_once, refuse_existing
from torchworks.errors import ConfigError, DataError, did_you_mean
from torchworks.tasks.speech_recognition.audio import resample

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
LANGUAGES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029")
# espeak-ng variant files (names are case-sensitive; an unknown one silently falls back to the default
# voice). Ones that sound like people: no whispering, croaking or robot variants.
VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "Andy", "Annie", "Alicia", "aunty", "belinda", "david",
    "edward", "linda", "max", "paul", "robert", "steph", "travis", "victor", "grandma", "grandpa",
)
AUDIO_FORMATS = {"ogg": ("OGG", "OPUS"), "wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16")}
MANIFEST_COLUMNS = ("path", "transcript", "voice", "speed", "pitch", "split")

ESPEAK = "espeak-ng"
_INSTALL_HINT = "install it: apt-get install espeak-ng (Debian/Ubuntu) or brew install espeak-ng"
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)  # the only rates an Opus stream can carry
# Opus compression for make_spoken_digits: ~70 kbit/s at 16 kHz, transparent for speech. Up to here Opus
# keeps to its CELT mode, which encodes twice as fast as the hybrid mode it takes from 0.82 (~52 kbit/s).
_OPUS_LEVEL = 0.75
_TEST_SHARE = 0.15  # of clips, and of voices held out for them
_VAL_SHARE = 0.10  # of the clips left after test
_SPEEDS = {"train": (120, 210), "val": (120, 210), "test": (110, 230)}  # words per minute
_PITCH = (20, 85)
_GAP = (0, 8)  # extra pause between words, in 10 ms units
_GAIN_DB = (-8.0, 4.0)  # around a speech peak of 0.5 (-6 dBFS)
_NOISY_SHARE = 0.7
_SNR_DB = (12.0, 40.0)
_NOISE_EXPONENT = {"white": 0.0, "pink": 1.0, "brown": 2.0}  # power falls as 1 / f**exponent
_SILENCE_S = (0.05, 0.4)
_PEAK = 0.99
_WORKERS = max(2, min(4, os.cpu_count() or 2))  # espeak-ng and the encoders run outside the GIL

T = TypeVar("T")


@dataclass(frozen=True)
class ClipPlan:
    """Everything that decides one clip, drawn before any audio is made so that the result does
    not depend on the order in which worker threads finish."""

    number: int
    transcript: str
    voice: str
    speed: int
    pitch: int
    gap: int
    split: str
    gain_db: float
    noise: str | None  # "white", "pink", "brown", or None for a clean clip
    snr_db: float
    lead_s: float
    trail_s: float
    noise_seed: int

    def path(self, audio_format: str) -> str:
        """Where the clip lives, relative to the dataset folder: ``clips/00001.ogg``."""
        return f"clips/{self.number:05d}.{audio_format}"


def espeak_available() -> bool:
    """Whether the espeak-ng command is on PATH."""
    return shutil.which(ESPEAK) is not None


def synthesise(text: str, voice: str, speed: int, pitch: int, gap: int, sample_rate: int = 16000) -> np.ndarray:
    """Speak ``text`` with espeak-ng.

    Args:
        text: What to say, e.g. ``"three seven one"``.
        voice: An espeak-ng voice, optionally with a variant: ``"en-us"``, ``"en-gb+f3"``.
        speed: Words per minute (espeak-ng accepts 80 to 450).
        pitch: Base pitch, 0 to 99.
        gap: Extra pause between words, in units of 10 ms at the default speed.
        sample_rate: The rate of the returned audio; espeak-ng's own output is resampled to it.

    Returns:
        Mono float32 samples at ``sample_rate``.

    Raises:
        DataError: espeak-ng is not installed, or it could not speak (an unknown voice).
    """
    import soundfile as sf

    command = _espeak_command("synthesise speech")
    arguments = [command, "-v", voice, "-s", str(int(speed)), "-p", str(int(pitch)), "-g", str(int(gap)),
                 "--stdout", "--stdin"]  # text on stdin: a text starting with '-' is not taken for an option
    result = subprocess.run(arguments, input=text.encode("utf-8"), capture_output=True, check=False)
    if result.returncode != 0 or not result.stdout:
        message = result.stderr.decode("utf-8", "replace").strip() or "no message"
        raise DataError(f"{ESPEAK} could not speak {text!r} in voice '{voice}'", expected="a WAV on its output",
                        got=f"exit code {result.returncode}: {message}", hint=f"list the voices: {ESPEAK} --voices=en")
    audio, rate = sf.read(io.BytesIO(result.stdout), dtype="float32", always_2d=True)
    return resample(audio.mean(axis=1), rate, sample_rate)


def _espeak_command(purpose: str) -> str:
    """The path of espeak-ng, or a DataError saying what could not be done without it."""
    command = shutil.which(ESPEAK)
    if command is None:
        raise DataError(f"cannot {purpose}: '{ESPEAK}' is not installed", expected=f"the '{ESPEAK}' command on PATH",
                        got="no such command", hint=_INSTALL_HINT)
    return command


def plan_spoken_digits(n: int, seed: int = 0) -> list[ClipPlan]:
    """The clips :func:`make_spoken_digits` makes for ``n`` and ``seed``, without making any audio."""
    rng = np.random.default_rng(seed)
    voices = [f"{language}+{variant}" for language in LANGUAGES for variant in VARIANTS]
    held_out = set(rng.choice(voices, size=round(_TEST_SHARE * len(voices)), replace=False).tolist())
    pools = {"test": sorted(held_out), "seen": [voice for voice in voices if voice not in held_out]}
    splits = _assign_splits(n, rng)
    return [_plan_clip(number, split, pools["test" if split == "test" else "seen"], rng)
            for number, split in enumerate(splits, start=1)]


def _assign_splits(n: int, rng: np.random.Generator) -> list[str]:
    """Exactly ~15% test and ~10% of the rest val, in random order (clip numbers reveal nothing)."""
    n_test = round(_TEST_SHARE * n)
    n_val = round(_VAL_SHARE * (n - n_test))
    splits = np.array(["train"] * n, dtype=object)
    order = rng.permutation(n)
    splits[order[:n_test]] = "test"
    splits[order[n_test:n_test + n_val]] = "val"
    return splits.tolist()


def _plan_clip(number: int, split: str, voices: Sequence[str], rng: np.random.Generator) -> ClipPlan:
    length = int(rng.integers(1, 8))  # 1 to 7 digits, each length equally likely
    noisy = rng.random() < _NOISY_SHARE
    return ClipPlan(
        number=number,
        transcript=" ".join(DIGIT_WORDS[d] for d in rng.integers(0, 10, size=length)),
        voice=str(voices[int(rng.integers(len(voices)))]),
        speed=int(rng.integers(_SPEEDS[split][0], _SPEEDS[split][1] + 1)),
        pitch=int(rng.integers(_PITCH[0], _PITCH[1] + 1)),
        gap=int(rng.integers(_GAP[0], _GAP[1] + 1)),
        split=split,
        gain_db=float(rng.uniform(*_GAIN_DB)),
        noise=str(rng.choice(list(_NOISE_EXPONENT))) if noisy else None,
        snr_db=float(rng.uniform(*_SNR_DB)),
        lead_s=float(rng.uniform(*_SILENCE_S)),
        trail_s=float(rng.uniform(*_SILENCE_S)),
        noise_seed=int(rng.integers(2**63)),
    )


def render_clip(plan: ClipPlan, sample_rate: int = 16000) -> np.ndarray:
    """The audio of one planned clip: speech, gain, silence either side, noise, peak below clipping."""
    speech = synthesise(plan.transcript, plan.voice, plan.speed, plan.pitch, plan.gap, sample_rate)
    speech = speech * (0.5 / max(float(np.abs(speech).max()), 1e-6)) * 10 ** (plan.gain_db / 20)
    lead, trail = round(plan.lead_s * sample_rate), round(plan.trail_s * sample_rate)
    audio = np.concatenate([np.zeros(lead), speech, np.zeros(trail)])
    if plan.noise is not None:
        noise = coloured_noise(len(audio), plan.noise, np.random.default_rng(plan.noise_seed), sample_rate)
        speech_power = float(np.mean(speech.astype(np.float64) ** 2))  # of the speech alone, not the padding
        audio = audio + noise * np.sqrt(speech_power / 10 ** (plan.snr_db / 10))
    peak = float(np.abs(audio).max())
    if peak > _PEAK:  # loud speech plus noise: scale down rather than clip
        audio = audio * (_PEAK / peak)
    return audio.astype(np.float32)


def coloured_noise(length: int, colour: str, rng: np.random.Generator, sample_rate: int = 16000) -> np.ndarray:
    """Gaussian noise of unit power whose spectrum falls as 1/f (pink), 1/f^2 (brown) or not (white).

    Shaped in the frequency domain; nothing below 20 Hz, so brown noise is a low rumble rather than
    an inaudible drift that would hold most of its power.
    """
    frequencies = np.fft.rfftfreq(length, d=1.0 / sample_rate)
    spectrum = rng.standard_normal(len(frequencies)) + 1j * rng.standard_normal(len(frequencies))
    spectrum *= np.where(frequencies < 20.0, 0.0, np.maximum(frequencies, 20.0) ** (-_NOISE_EXPONENT[colour] / 2))
    noise = np.fft.irfft(spectrum, n=length)
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def make_spoken_digits(out: Path, n: int = 3000, seed: int = 0, sample_rate: int = 16000,
                       audio_format: str = "ogg", progress: bool = True) -> Path:
    """Synthesise a spoken-digits dataset into the new folder ``out``.

    Writes ``out/clips/00001.ogg`` ... and ``out/manifest.csv`` with columns
    ``path,transcript,voice,speed,pitch,split`` (paths relative to ``out``; splits train/val/test,
    with the test voices and the fastest and slowest speeds never in train). The folder appears
    only when complete: an interrupted run leaves nothing behind.

    Args:
        out: A folder that does not exist yet, or is empty.
        n: How many clips.
        seed: Decides every clip; the same seed and ``n`` give the same dataset.
        sample_rate: Of the written audio.
        audio_format: ``ogg`` (Opus), ``wav`` or ``flac``.
        progress: Show a progress bar on stderr.

    Returns:
        ``out``.

    Raises:
        DataError: ``out`` exists and is not an empty folder, or espeak-ng is missing.
        ConfigError: ``n``, ``sample_rate`` or ``audio_format`` is not usable.
    """
    out = Path(out)
    _check_request(n, sample_rate, audio_format)
    refuse_existing(out, "the spoken-digits dataset")
    _espeak_command("make spoken digits")  # before any folder is made, not in the middle of the clips
    plans = plan_spoken_digits(n, seed)

    def write(folder: Path) -> None:
        (folder / "clips").mkdir()
        jobs = [functools.partial(_write_clip, folder, plan, sample_rate, audio_format) for plan in plans]
        run_parallel(jobs, "synthesising spoken digits", progress)
        write_manifest(folder / "manifest.csv", plans, audio_format)

    materialize_once(out, write)
    return out


def _check_request(n: int, sample_rate: int, audio_format: str) -> None:
    if audio_format not in AUDIO_FORMATS:
        raise ConfigError(f"audio_format '{audio_format}' is not supported", expected=", ".join(AUDIO_FORMATS),
                          got=repr(audio_format), hint=did_you_mean(str(audio_format), AUDIO_FORMATS))
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError("n must be a whole number of clips", expected="an integer of at least 1", got=repr(n),
                          hint="for example n=3000")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate < 8000:
        raise ConfigError("sample_rate is not usable for speech", expected="an integer of at least 8000 (Hz)",
                          got=repr(sample_rate), hint="use sample_rate=16000")
    if audio_format == "ogg" and sample_rate not in _OPUS_RATES:
        raise ConfigError(f"sample_rate {sample_rate} cannot be stored as Opus",
                          expected="one of " + ", ".join(map(str, _OPUS_RATES)), got=repr(sample_rate),
                          hint="use sample_rate=16000, or audio_format=flac for other rates")


def _write_clip(folder: Path, plan: ClipPlan, sample_rate: int, audio_format: str) -> None:
    write_audio(folder / plan.path(audio_format), render_clip(plan, sample_rate), sample_rate, audio_format)


def write_audio(path: Path | BinaryIO, audio: np.ndarray, sample_rate: int, audio_format: str,
                opus_level: float = _OPUS_LEVEL) -> None:
    """Write mono ``audio`` as ``audio_format``; ``opus_level`` 0 (best) to 1 (smallest) for ``ogg``."""
    import soundfile as sf

    container, subtype = AUDIO_FORMATS[audio_format]
    level = opus_level if audio_format == "ogg" else None
    sf.write(path, audio, sample_rate, format=container, subtype=subtype, compression_level=level)


def write_manifest(path: Path, plans: Sequence[ClipPlan], audio_format: str) -> None:
    """``manifest.csv``: one row per clip, in clip order."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(MANIFEST_COLUMNS)
        for plan in plans:
            writer.writerow([plan.path(audio_format), plan.transcript, plan.voice, plan.speed, plan.pitch, plan.split])


def run_parallel(jobs: Sequence[Callable[[], T]], description: str, progress: bool = True) -> list[T]:
    """Run ``jobs`` in a few threads with a progress bar on stderr; their results in job order.

    The first failure cancels the jobs not yet started and is raised.
    """
    from rich.console import Console
    from rich.progress import MofNCompleteColumn, Progress

    columns = (*Progress.get_default_columns(), MofNCompleteColumn())
    with Progress(*columns, console=Console(stderr=True), disable=not progress) as bar:
        task = bar.add_task(description, total=len(jobs))
        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            futures = [pool.submit(job) for job in jobs]
            try:
                for future in as_completed(futures):
                    future.result()
                    bar.advance(task)
            except BaseException:
                for future in futures:  # the pool then waits only for the jobs already running
                    future.cancel()
                raise
    return [future.result() for future in futures]
