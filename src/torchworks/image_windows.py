"""Where the windows of a sliding-window pass over a large image start: every window whole, neighbours
overlapping by a share of a side, the last one moved back to end at the image's edge. Shared by the
image tasks that predict large images piecewise (``tile=SIZE overlap=F``)."""

from __future__ import annotations


def window_starts(length: int, size: int, overlap: float) -> list[int]:
    """Where windows of ``size`` start along a side of ``length``, overlapping by ``overlap`` of ``size``
    (one window at 0 when the side fits in one)."""
    if length <= size:
        return [0]
    step = max(1, int(round(size * (1 - overlap))))
    positions = list(range(0, length - size, step))
    return positions + [length - size]
