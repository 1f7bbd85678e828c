"""Window positions: every window whole, neighbours overlapping as asked, the last ending at the edge."""

from __future__ import annotations

import pytest

from torchworks.image_windows import window_starts


def test_windows_overlap_and_the_last_ends_at_the_edge():
    assert window_starts(100, 128, 0.2) == [0], "a side that fits is one window"
    assert window_starts(128, 128, 0.2) == [0]
    assert window_starts(300, 128, 0.25) == [0, 96, 172]
    assert window_starts(300, 100, 0.0) == [0, 100, 200]


@pytest.mark.parametrize("length,size,overlap", [(129, 128, 0.25), (1000, 64, 0.5), (8000, 512, 0.25), (37, 5, 0.9)])
def test_windows_cover_the_side_without_gaps(length, size, overlap):
    starts = window_starts(length, size, overlap)
    assert starts[0] == 0 and starts[-1] + size == length and starts == sorted(set(starts))
    assert all(later - earlier <= size for earlier, later in zip(starts, starts[1:])), "no gap between windows"
