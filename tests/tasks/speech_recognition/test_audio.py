"""Decoding audio: any rate and channels to mono at the model's rate; bad files named by reason."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from torchworks.tasks.speech_recognition.audio import BadAudio, is_silent, load_audio


def test_stereo_44k_becomes_mono_16k(tmp_path):
    seconds = np.arange(44_100) / 44_100
    tone = np.sin(2 * np.pi * 440 * seconds).astype(np.float32)
    sf.write(tmp_path / "stereo.flac", np.stack([tone, tone * 0.5], axis=1), 44_100)
    samples = load_audio(tmp_path / "stereo.flac", 16_000)
    assert samples.dtype == np.float32 and abs(len(samples) - 16_000) <= 1
    assert 0.7 < np.abs(samples).max() < 0.8  # the mean of the two channels


@pytest.mark.parametrize("case", ["text_renamed", "zero_bytes", "missing"])
def test_bad_files_say_why(case, tmp_path):
    path = tmp_path / "clip.wav"
    if case == "text_renamed":
        path.write_text("this is not audio at all\n")
    elif case == "zero_bytes":
        path.write_bytes(b"")
    with pytest.raises(BadAudio) as info:
        load_audio(path, 16_000)
    assert {"text_renamed": "not a readable audio file", "zero_bytes": "0 bytes", "missing": "no such file"}[case] in str(info.value)


def test_silence_is_recognised(tmp_path):
    sf.write(tmp_path / "quiet.wav", np.zeros(8000, dtype=np.float32), 16_000)
    assert is_silent(load_audio(tmp_path / "quiet.wav", 16_000))
