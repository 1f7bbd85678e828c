"""Synthetic ticket-sales orders with planted anomalies and their ground truth: the ``ticket-sales`` sample.

The world, from one seed: 40 venues (each in one country, with 6 to 12 sections priced from ``upper`` at
0.6x to ``vip`` at 3x), 300 events (one venue each, a base price of 20-250 and a Zipf popularity) and a
pool of about ``rows / 4`` customers (each with a home country; a few buy often, most a few times).

Orders, one row each, run over 90 days from 2026-01-05 (UTC) in time order, busiest in the evenings and at
weekends, with few at 2-6 am. Each picks an event by popularity, a section of its venue, a price (the
event's base x the section's multiplier x lognormal noise of about 8%, in cents), 1 to 8 tickets (mostly
1 to 4), a channel (web, app, box office, partner) and a payment method that channel takes (cash only at
the box office, which takes only card or cash; invoice only through partners). Box office orders come from
the venue's country, the others from the customer's.

About ``anomaly_rate`` of the rows are then overwritten, in five equal shares, at random rows that
``is_anomaly`` and ``anomaly_kind`` record (``is_ok`` is the opposite of ``is_anomaly``):

- ``price_outlier``: the price x 8-20 or x 0.02-0.1 (the total follows).
- ``bulk_buy``: 30 to 200 tickets.
- ``bot_burst``: a block of 20-60 consecutive orders from one new customer for one event within 10 seconds
  of the block's first order, 8 tickets each, checked out in 0.2-2 s through the web or the app.
- ``impossible_combination``: what no normal order has: the box office with paypal, apple_pay or invoice,
  or from another country than the venue's; an invoice through the web or the app.
- ``duplicate``: a copy of the (normal) order just before it, all but ``order_id``.

Every anomaly has a normal order just before it, so the file's times stay in order and a duplicate copies
a normal order. Rows are drawn in chunks of 500,000, each from its own random stream (``[seed, chunk]``),
with vectorised numpy: memory stays bounded and the output depends only on ``rows``, ``anomaly_rate`` and
``seed``. :func:`make_ticket_sales` writes one Parquet (or CSV) file atomically.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa

from torchworks.errors import ConfigError, DataError
from torchworks.tasks.anomaly_detection.planting import KINDS, plant_anomalies
from torchworks.tasks.anomaly_detection.sales_world import (
    CHANNELS,
    CHUNK_ROWS,
    COUNTRIES,
    PAYMENTS,
    SECTIONS,
    VENUES,
    World,
    draw_orders,
    make_world,
)

SCHEMA = pa.schema([
    ("order_id", pa.int64()), ("timestamp", pa.timestamp("s", tz="UTC")), ("customer_id", pa.string()),
    ("event_id", pa.string()), ("venue", pa.string()), ("section", pa.string()), ("price", pa.float64()),
    ("quantity", pa.int32()), ("total", pa.float64()), ("channel", pa.string()), ("payment_method", pa.string()),
    ("country", pa.string()), ("checkout_seconds", pa.float64()), ("is_anomaly", pa.bool_()),
    ("anomaly_kind", pa.string()), ("is_ok", pa.bool_()),
])
COLUMNS = tuple(SCHEMA.names)
SUFFIXES = (".parquet", ".pq", ".csv")
MIN_ROWS, MAX_ROWS, MAX_CSV_ROWS, MAX_RATE = 100, 50_000_000, 1_000_000, 0.2
ROW_GROUP_ROWS = 131_072


def make_ticket_sales(out: Path, rows: int = 200_000, anomaly_rate: float = 0.01, seed: int = 0,
                      progress: bool = True) -> Path:
    """Write generated ticket-sales orders with planted anomalies (``is_anomaly``, ``anomaly_kind``) to ``out``.

    One row per order (see :data:`COLUMNS`), in time order over 90 days, as one Parquet file (snappy, row
    groups of 131,072 rows) or a CSV file. The same arguments give the same bytes. About 5 seconds for
    4 million rows; memory stays bounded whatever the size. The file appears only when complete.

    Args:
        out: The file to write: ``.parquet`` (or ``.pq``) or ``.csv`` (at most 1,000,000 rows); it must not exist.
        rows: Orders, 100 to 50,000,000.
        anomaly_rate: The share of anomalous orders, 0 to 0.2, split evenly across the five kinds.
        seed: The random seed.
        progress: Show a progress bar.

    Returns:
        ``out``.

    Raises:
        ConfigError: An argument is out of range, or ``out`` has another suffix.
        DataError: ``out`` exists.
    """
    out = Path(out)
    check_arguments(out, rows, anomaly_rate, seed)
    refuse_overwrite(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.partial")  # a sibling, so the rename is atomic
    try:
        write_sales(partial, rows, anomaly_rate, seed, progress, as_csv=out.suffix.lower() == ".csv")
        refuse_overwrite(out)  # written meanwhile by someone else
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def check_arguments(out: Path, rows: int, anomaly_rate: float, seed: int) -> None:
    """Refuse a file type, a size or a rate no sales table should be written with.

    Raises:
        ConfigError: An argument is out of range.
    """
    if out.suffix.lower() not in SUFFIXES:
        raise ConfigError("out is not a .parquet or .csv file", expected="a path ending in .parquet, .pq or .csv",
                          got=str(out), hint="for example out=sales.parquet")
    if not MIN_ROWS <= rows <= MAX_ROWS:
        raise ConfigError("rows is out of range", expected=f"{MIN_ROWS:,} to {MAX_ROWS:,} rows", got=f"{rows:,}")
    if out.suffix.lower() == ".csv" and rows > MAX_CSV_ROWS:
        raise ConfigError("rows is too many for a CSV file", expected=f"at most {MAX_CSV_ROWS:,} rows in a .csv",
                          got=f"{rows:,}", hint="write a .parquet file instead")
    if not 0 <= anomaly_rate <= MAX_RATE:  # NaN fails too
        raise ConfigError("anomaly_rate is out of range", expected=f"0 to {MAX_RATE}", got=str(anomaly_rate))
    if seed < 0:
        raise ConfigError("seed is out of range", expected="a whole number from 0", got=str(seed))


def refuse_overwrite(out: Path) -> None:
    """Nothing of the user's is overwritten: an existing file or folder at ``out`` stops the writing.

    Raises:
        DataError: ``out`` exists.
    """
    if out.exists() or out.is_symlink():
        raise DataError(f"will not overwrite '{out}'", expected="a path that does not exist yet",
                        got="an existing folder" if out.is_dir() else "an existing file",
                        hint="choose another out= or delete it first")


def write_sales(path: Path, rows: int, anomaly_rate: float, seed: int, progress: bool = False,
                as_csv: bool = False) -> None:
    """Draw the orders chunk by chunk and write them to ``path`` (not atomically: callers see to that)."""
    from torchworks.progress import track

    world = make_world(rows, seed)
    chunks = range(-(-rows // CHUNK_ROWS))
    with SalesWriter(path, as_csv) as writer:
        for chunk in track(chunks, "writing ticket sales", total=len(chunks), enabled=progress):
            writer.write(generate_chunk(world, chunk, anomaly_rate, seed))


class SalesWriter:
    """Writes tables one after another to a CSV file, or to a Parquet file in row groups of exactly
    :data:`ROW_GROUP_ROWS` (the last may be shorter) whatever the tables' lengths."""

    def __init__(self, path: Path, as_csv: bool = False):
        import pyarrow.csv
        import pyarrow.parquet

        self._pending: list[pa.Table] = []
        self._csv = as_csv
        self._writer = (pyarrow.csv.CSVWriter(str(path), SCHEMA) if as_csv
                        else pyarrow.parquet.ParquetWriter(str(path), SCHEMA, compression="snappy"))

    def write(self, table: pa.Table) -> None:
        if self._csv:
            self._writer.write_table(table)
            return
        self._pending.append(table)
        waiting = pa.concat_tables(self._pending)
        whole = len(waiting) // ROW_GROUP_ROWS * ROW_GROUP_ROWS
        if whole:
            self._writer.write_table(waiting.slice(0, whole), row_group_size=ROW_GROUP_ROWS)
            self._pending = [waiting.slice(whole)]

    def __enter__(self) -> SalesWriter:
        return self

    def __exit__(self, *failure) -> None:
        try:
            if failure[0] is None and self._pending and sum(map(len, self._pending)):
                self._writer.write_table(pa.concat_tables(self._pending), row_group_size=ROW_GROUP_ROWS)
        finally:
            self._writer.close()


def generate_chunk(world: World, chunk: int, anomaly_rate: float, seed: int) -> pa.Table:
    """Rows ``chunk x CHUNK_ROWS`` onwards (at most :data:`CHUNK_ROWS`), anomalies planted, as a table of
    :data:`SCHEMA`; drawn from the stream ``[seed, chunk]`` alone."""
    rng = np.random.default_rng([seed, chunk])
    first = chunk * CHUNK_ROWS
    orders = draw_orders(rng, world, first, min(CHUNK_ROWS, world.rows - first))
    plant_anomalies(rng, world, orders, chunk, anomaly_rate)
    orders["total"] = np.round(orders["price"] * orders["quantity"], 2)
    return to_table(orders, world.customer_digits)


def to_table(orders: dict[str, np.ndarray], customer_digits: int = 7) -> pa.Table:
    """The orders as a table of :data:`SCHEMA`: codes become their names, ids their text (``C0012345``)."""
    anomalous = orders["kind"] > 0
    columns = [
        pa.array(orders["order_id"], pa.int64()), pa.array(orders["timestamp"], pa.timestamp("s", tz="UTC")),
        _ids("C", orders["customer"], customer_digits), _ids("E", orders["event"] + 1, 4),
        _names([name for name, _ in VENUES], orders["venue"]), _names(SECTIONS, orders["section"]),
        pa.array(orders["price"], pa.float64()), pa.array(orders["quantity"], pa.int32()),
        pa.array(orders["total"], pa.float64()), _names(CHANNELS, orders["channel"]),
        _names(PAYMENTS, orders["payment"]), _names(COUNTRIES, orders["country"]),
        pa.array(orders["checkout_seconds"], pa.float64()), pa.array(anomalous),
        _names(("",) + KINDS, orders["kind"]), pa.array(~anomalous),
    ]
    return pa.Table.from_arrays(columns, schema=SCHEMA)


def _names(names, codes: np.ndarray) -> pa.Array:
    return pa.array(names, pa.string()).take(pa.array(codes.astype("int32")))


def _ids(prefix: str, numbers: np.ndarray, digits: int) -> pa.Array:
    """``prefix`` and ``numbers`` zero-padded to ``digits``, written straight into an Arrow string buffer."""
    width = len(prefix) + digits
    text = np.empty((len(numbers), width), dtype=np.uint8)
    text[:, :len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    rest = numbers.astype("int64")
    for place in range(width - 1, len(prefix) - 1, -1):  # a loop over the digits, not the rows
        text[:, place] = 48 + rest % 10
        rest = rest // 10
    offsets = np.arange(len(numbers) + 1, dtype="int32") * width
    return pa.StringArray.from_buffers(len(numbers), pa.py_buffer(offsets), pa.py_buffer(text))
