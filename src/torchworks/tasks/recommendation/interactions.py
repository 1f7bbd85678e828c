"""What the recommendation readers hand to the rest of the task: interactions as a typed frame, with
the item catalogue beside them, whatever layout they came in (a CSV of events, a Parquet file, a
MovieLens folder).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

    from torchworks.tables import Rows

Feedback = Literal["implicit", "explicit"]

# the columns of Interactions.frame, in order
USER, ITEM, RATING, WEIGHT, TIME, LINE = "user", "item", "rating", "weight", "time", "line"
FRAME_COLUMNS = (USER, ITEM, RATING, WEIGHT, TIME, LINE)


@dataclass
class Interactions:
    """Interactions read and checked, one row per (user, item, time) event.

    Attributes:
        frame: Columns ``user`` and ``item`` (str ids, never empty), ``rating`` (float64, NaN when the
            data has no ratings), ``weight`` (float64 > 0: a count or weight column, else 1.0),
            ``time`` (int64 seconds since the epoch, or the row's order when the data has no times)
            and ``line`` (int64: the file line or 1-based row the event came from, for messages).
            Sorted by time, then line.
        source: The file (or folder) read, as the user named it.
        rows: How the source numbers its rows (``line 4`` or ``row 4``).
        has_ratings: Whether ``rating`` holds values.
        has_times: Whether ``time`` came from the data (else it is the row order).
        rating_scale: ``(low, high)`` the ratings must lie in (declared, or a known layout's), or None.
        items: The catalogue, indexed by item id (str): ``title`` (str, the id when unknown),
            ``genres`` (a list of str per item, possibly empty) and any further feature columns; it
            may list items that no interaction names.
        columns: Each role found (``user``, ``item``, ``rating``, ``weight``, ``time``) -> the source
            column it came from, for the console and the run's config.
        notes: Facts for the report: ``{"duplicates dropped": 12, "layout": "MovieLens 100k"}``.
    """

    frame: pd.DataFrame
    source: str
    rows: Rows
    has_ratings: bool
    has_times: bool
    rating_scale: tuple[float, float] | None
    items: pd.DataFrame
    columns: dict[str, str] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)
