"""Tiny speech data for the speech-recognition tests: digit words spoken by espeak-ng (installed by
`make test`), written as WAV files with a manifest."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def speak(path: Path, text: str, voice: str = "en-us", speed: int = 160) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
    return path


def write_manifest(folder: Path, count: int = 24, seed: int = 0) -> Path:
    rng = random.Random(seed)
    lines = ["path,transcript"]
    for i in range(count):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
        speak(folder / "clips" / f"{i:03d}.wav", text, rng.choice(["en-us", "en-gb+f2", "en-029+m3"]), rng.randint(140, 190))
        lines.append(f"clips/{i:03d}.wav,{text}")
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "manifest.csv"


@pytest.fixture(scope="session")
def speech_manifest(tmp_path_factory) -> Path:
    """24 short clips of 1-3 digit words with a manifest (made once per test session)."""
    return write_manifest(tmp_path_factory.mktemp("speech"))


@pytest.fixture
def say_clip():
    """``say_clip(path, text, voice="en-us", speed=160)`` writes a WAV with espeak-ng."""
    return speak
