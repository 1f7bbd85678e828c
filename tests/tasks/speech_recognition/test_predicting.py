"""Long audio is cut at pauses, transcribed in pieces and stitched back per file."""

from __future__ import annotations

import numpy as np

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
