"""How the contract suite runs speech-recognition on tiny data: sixteen espeak-ng clips of digit words."""

from __future__ import annotations

from pathlib import Path

TASK = "speech-recognition"
SETTINGS = {"hidden": 16, "layers": 1, "beam_width": 2}
QUICKSTART = {"epochs": 1, "hidden": 32, "layers": 1, "beam_width": 2, "baselines": False}


def make_data(request, scratch: Path) -> Path:
    return request.getfixturevalue("write_spoken_words")(scratch)


def predict_inputs(data: Path) -> list:
    return [str(data.parent / "clips" / "0.wav"), str(data.parent / "clips")]
