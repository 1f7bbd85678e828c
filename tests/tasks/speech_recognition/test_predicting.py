"""Long audio is cut at pauses, transcribed in pieces and stitched back per file."""

from __future__ import annotations

import numpy as np
import pytest

from torchworks.tasks.speech_recognition.predicting import split_long


def test_long_audio_is_cut_at_the_quiet_moment():
    rate = 1000
    loud = np.ones(rate * 10, dtype=np.float32)
    loud[8400:8500] = 0.0  # a pause 8.4 s in
    pieces = split_long(loud, rate, max_seconds=9.0)
    assert len(pieces) == 2 and 8400 <= len(pieces[0]) <= 8500
    assert sum(len(p) for p in pieces) == len(loud)


def test_short_audio_is_one_piece():
    assert len(split_long(np.ones(500, dtype=np.float32), 1000, max_seconds=1.0)) == 1


def _log_probs(rows):
    """Frame probabilities (blank first) as the model's log-probabilities."""
    import torch

    return torch.tensor(rows, dtype=torch.float32).log().unsqueeze(0)


def test_confidence_is_the_mean_peak_of_the_characters_the_greedy_path_writes():
    from torchworks.tasks.speech_recognition.decoding import greedy_confidence

    # frames: blank, 'a' at 0.6 then 0.9 (one character), blank, 'b' at 0.5: peaks 0.9 and 0.5
    rows = [[0.8, 0.1, 0.1], [0.2, 0.6, 0.2], [0.05, 0.9, 0.05], [0.7, 0.2, 0.1], [0.3, 0.2, 0.5]]
    [(peaks, blank, frames)] = greedy_confidence(_log_probs(rows))
    assert peaks == pytest.approx([0.9, 0.5]) and frames == 5
    assert blank == pytest.approx(0.8 + 0.2 + 0.05 + 0.7 + 0.3)


def test_records_carry_the_confidence_and_silence_gets_the_blank_probability():
    from torchworks.tasks.speech_recognition.predicting import transcript_records

    state = {"tokens": ["<blank>", "a", "b"], "lexicon": None}
    speech = _log_probs([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    silence = _log_probs([[0.9, 0.05, 0.05], [0.7, 0.2, 0.1]])
    import torch

    outputs = torch.cat([speech, silence])
    origins = [{"input": f"{n}.wav", "clip": n, "piece": 0, "pieces": 1, "seconds": 0.1} for n in (0, 1)]
    spoken, quiet = transcript_records(outputs, origins, state, "greedy", 2)
    assert spoken["transcript"] == "ab" and spoken["confidence"] == pytest.approx(0.8)
    assert quiet["transcript"] == "" and quiet["confidence"] == pytest.approx(0.8)


def test_a_bad_clip_is_passed_over_in_its_place_and_arrays_are_clips(tmp_path):
    import soundfile as sf

    from torchworks.bad_inputs import collecting_bad_inputs
    from torchworks.errors import DataError
    from torchworks.tasks.speech_recognition.predicting import audio_inputs

    from torchworks.tasks.speech_recognition.features import feature_state

    state = {**feature_state(8000, 16, 25.0, 10.0), "max_seconds": 10.0}
    tone = (0.3 * np.sin(np.arange(4000) / 5)).astype(np.float32)
    sf.write(tmp_path / "a.wav", tone, 8000)
    (tmp_path / "b.wav").write_bytes(b"RIFF....WAVEjunk")
    sf.write(tmp_path / "c.wav", tone, 8000)
    with collecting_bad_inputs() as bad:
        _, origins = audio_inputs([tmp_path, tone], {**state})
    assert [o["input"] for o in origins] == [str(tmp_path / "a.wav"), str(tmp_path / "c.wav"), "<array 4000>"]
    assert [o["clip"] for o in origins] == [0, 1, 2]
    assert [(b.input, b.position) for b in bad.found] == [(str(tmp_path / "b.wav"), 1)]
    with pytest.raises(DataError, match="cannot read audio"):
        audio_inputs([tmp_path], state)
    with pytest.raises(DataError, match="is not a clip"):
        audio_inputs([np.zeros((3, 3, 3))], state)
