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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from torchworks.errors import ConfigError, DataError

SCHEMA = pa.schema([
    ("order_id", pa.int64()), ("timestamp", pa.timestamp("s", tz="UTC")), ("customer_id", pa.string()),
    ("event_id", pa.string()), ("venue", pa.string()), ("section", pa.string()), ("price", pa.float64()),
    ("quantity", pa.int32()), ("total", pa.float64()), ("channel", pa.string()), ("payment_method", pa.string()),
    ("country", pa.string()), ("checkout_seconds", pa.float64()), ("is_anomaly", pa.bool_()),
    ("anomaly_kind", pa.string()), ("is_ok", pa.bool_()),
])
COLUMNS = tuple(SCHEMA.names)
KINDS = ("price_outlier", "bulk_buy", "bot_burst", "impossible_combination", "duplicate")  # codes 1 to 5
PRICE_OUTLIER, BULK_BUY, BOT_BURST, IMPOSSIBLE, DUPLICATE = range(1, 6)
SUFFIXES = (".parquet", ".pq", ".csv")
MIN_ROWS, MAX_ROWS, MAX_CSV_ROWS, MAX_RATE = 100, 50_000_000, 1_000_000, 0.2
CHUNK_ROWS = 500_000  # rows drawn at a time, each chunk from its own stream: part of what fixes the output
ROW_GROUP_ROWS = 131_072
START = 1_767_571_200  # 2026-01-05 00:00 UTC, a Monday
DAYS = 90

CHANNELS = ("web", "app", "box_office", "partner")
CHANNEL_SHARES = (0.55, 0.30, 0.10, 0.05)
WEB, APP, BOX_OFFICE, PARTNER = range(4)
PAYMENTS = ("card", "paypal", "apple_pay", "gift_card", "invoice", "cash")
CARD, PAYPAL, APPLE_PAY, GIFT_CARD, INVOICE, CASH = range(6)
PAYMENT_SHARES = np.array([  # per channel: invoice only through partners, cash only (with card) at the box office
    [0.60, 0.25, 0.10, 0.05, 0.00, 0.00],
    [0.45, 0.15, 0.35, 0.05, 0.00, 0.00],
    [0.70, 0.00, 0.00, 0.00, 0.00, 0.30],
    [0.50, 0.10, 0.00, 0.00, 0.40, 0.00],
])
COUNTRIES = ("DE", "GB", "FR", "NL", "ES", "IT", "US", "AT", "CH", "BE", "PL", "SE", "DK", "IE", "NO")
COUNTRY_SHARES = np.array([22, 14, 12, 8, 7, 7, 6, 5, 4, 4, 4, 3, 2, 1, 1]) / 100
VENUES = (  # name, country (of the box office's buyers)
    ("Arena North", "DE"), ("Rheinhalle", "DE"), ("Westfalen Stadium", "DE"), ("Elbe Concert Hall", "DE"),
    ("Spree Arena", "DE"), ("Isar Theatre", "DE"), ("Hafen Club", "DE"), ("Albert Hall East", "GB"),
    ("Thames Arena", "GB"), ("Mersey Stadium", "GB"), ("Roundhouse Stage", "GB"), ("Clyde Auditorium", "GB"),
    ("Palais Lumiere", "FR"), ("Seine Arena", "FR"), ("Lyon Opera House", "FR"), ("Marseille Dome", "FR"),
    ("Amstel Hall", "NL"), ("Maas Arena", "NL"), ("Utrecht Music Centre", "NL"), ("Arena Sur", "ES"),
    ("Teatro Real Norte", "ES"), ("Palau Blau", "ES"), ("Teatro Grande", "IT"), ("Arena Verde", "IT"),
    ("Forum Milano", "IT"), ("Harbor Pavilion", "US"), ("Lakeside Amphitheater", "US"), ("Donau Halle", "AT"),
    ("Alpen Arena", "AT"), ("Limmat Hall", "CH"), ("Lac Stadium", "CH"), ("Brussels Forum", "BE"),
    ("Scheldt Arena", "BE"), ("Vistula Arena", "PL"), ("Krakow Hall", "PL"), ("Nordic Arena", "SE"),
    ("Gota Hall", "SE"), ("Copenhagen Dome", "DK"), ("Liffey Theatre", "IE"), ("Fjord Hall", "NO"),
)
# every venue has floor, upper and vip and 3 to 9 of the lettered blocks, A the dearest
SECTIONS = ("floor", "A", "B", "C", "D", "E", "F", "G", "H", "I", "upper", "vip")
SECTION_MULTIPLIERS = np.array([1.5, 1.3, 1.22, 1.14, 1.06, 0.98, 0.9, 0.82, 0.74, 0.66, 0.6, 3.0])
SECTION_WEIGHTS = np.array([15, 10, 10, 9, 9, 8, 8, 7, 7, 6, 20, 3], dtype="float64")
EVENTS = 300
QUANTITY_SHARES = np.array([35, 35, 12, 10, 3, 2, 2, 1]) / 100  # 1 to 8 tickets
CUSTOMER_SKEW = 1.5  # customer = pool x u**1.5: about rows/4 customers, the busiest with a few hundred orders
BURST_MEAN, BURSTS_PER_CHUNK = 40, CHUNK_ROWS // 20  # the second numbers the bots' customer ids
HOUR_PROFILE = np.array([3, 2, 1, 0.6, 0.5, 0.5, 0.8, 2, 4, 5, 6, 6.5, 7, 7, 6.5, 6.5, 7, 8.5, 10, 11, 11, 9.5, 7, 5])
WEEK_PROFILE = np.array([0.9, 0.95, 1.0, 1.05, 1.2, 1.15, 0.95])  # Monday to Sunday
WORLD_STREAM = 2**32 - 1  # the world's stream, [seed, WORLD_STREAM], is never a chunk's


@dataclass(frozen=True)
class World:
    """What every chunk shares: venues, sections, events, the customer pool and the time profile."""

    rows: int
    venue_country: np.ndarray  # per venue, a code into COUNTRIES
    section_cdf: np.ndarray  # per venue, the cumulative shares of SECTIONS (0 for those it lacks)
    event_venue: np.ndarray
    event_price: np.ndarray  # base price
    event_cdf: np.ndarray  # cumulative popularity
    customer_pool: int
    customer_key: tuple[int, int]  # (multiplier, shift): scrambles a customer's rank into its id
    customer_digits: int
    time_cdf: np.ndarray  # share of the orders placed by the end of each hour (0 first)


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


def make_world(rows: int, seed: int) -> World:
    """Draw the venues' sections, the events and the customer pool, and lay out the 90 days' rhythm."""
    rng = np.random.default_rng([seed, WORLD_STREAM])
    has = np.ones((len(VENUES), len(SECTIONS)), dtype=bool)
    letters = rng.integers(3, 10, len(VENUES))  # so 6 to 12 sections
    has[:, 1:10] = np.arange(9)[None, :] < letters[:, None]
    weights = has * SECTION_WEIGHTS * rng.gamma(8.0, 1 / 8, has.shape)  # each venue sells its blocks a bit apart
    popularity = rng.permutation(np.arange(1, EVENTS + 1)) ** -0.8  # Zipf, exponent 0.8
    pool = max(10, rows // 4)
    multiplier = next(k for k in range(1_000_003, 2_000_000, 2) if np.gcd(k, pool) == 1)
    bot_ids = pool + BURSTS_PER_CHUNK * (-(-rows // CHUNK_ROWS) + 1)
    hours = np.arange(DAYS * 24)
    # the daily and weekly rhythm, busier towards the end of the period as the season's events draw near
    rate = HOUR_PROFILE[hours % 24] * WEEK_PROFILE[hours // 24 % 7] * (1 + 0.3 * hours / len(hours))
    return World(rows=rows, venue_country=np.array([COUNTRIES.index(country) for _, country in VENUES]),
                 section_cdf=_cumulative(weights), event_venue=rng.integers(0, len(VENUES), EVENTS),
                 event_price=np.clip(np.exp(rng.normal(np.log(55), 0.55, EVENTS)), 20, 250).round(2),
                 event_cdf=_cumulative(popularity), customer_pool=pool,
                 customer_key=(multiplier, int(rng.integers(0, pool))), customer_digits=max(7, len(str(bot_ids))),
                 time_cdf=np.r_[0.0, _cumulative(rate)])


def _cumulative(weights: np.ndarray) -> np.ndarray:
    """Cumulative shares along the last axis, ending at exactly 1."""
    cdf = np.cumsum(weights, axis=-1)
    cdf /= cdf[..., -1:]
    cdf[..., -1] = 1.0
    return cdf


def _draw(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    """``n`` indices drawn with the cumulative shares ``cdf``."""
    return np.searchsorted(cdf, rng.random(n), side="right")


def _draw_per_row(rng: np.random.Generator, cdf: np.ndarray, which: np.ndarray) -> np.ndarray:
    """One index per row ``i`` drawn with the cumulative shares ``cdf[which[i]]``, in one search."""
    # cdf's rows offset by their number make one sorted array; u < 1 - 1e-9 keeps a draw inside its row
    flat = (np.arange(len(cdf))[:, None] + cdf).ravel()
    u = rng.random(len(which)) * (1 - 1e-9)
    return np.searchsorted(flat, which + u, side="right") - which * cdf.shape[1]


def generate_chunk(world: World, chunk: int, anomaly_rate: float, seed: int) -> pa.Table:
    """Rows ``chunk x CHUNK_ROWS`` onwards (at most :data:`CHUNK_ROWS`), anomalies planted, as a table of
    :data:`SCHEMA`; drawn from the stream ``[seed, chunk]`` alone."""
    rng = np.random.default_rng([seed, chunk])
    first = chunk * CHUNK_ROWS
    orders = draw_orders(rng, world, first, min(CHUNK_ROWS, world.rows - first))
    plant_anomalies(rng, world, orders, chunk, anomaly_rate)
    orders["total"] = np.round(orders["price"] * orders["quantity"], 2)
    return to_table(orders, world.customer_digits)


def draw_orders(rng: np.random.Generator, world: World, first: int, n: int) -> dict[str, np.ndarray]:
    """``n`` normal orders from row ``first`` on, as arrays (codes for the text columns, ``kind`` all 0)."""
    event = _draw(rng, world.event_cdf, n)
    venue, section, price = _draw_tickets(rng, world, event)
    channel = _draw(rng, _cumulative(np.array(CHANNEL_SHARES)), n)
    payment = _draw_per_row(rng, _cumulative(PAYMENT_SHARES), channel)
    rank = np.floor(world.customer_pool * rng.random(n) ** CUSTOMER_SKEW).astype("int64")  # low ranks buy often
    multiplier, shift = world.customer_key
    customer = (rank * multiplier + shift) % world.customer_pool + 1  # so that the busiest ids are spread out
    country = np.where(channel == BOX_OFFICE, world.venue_country[venue], _home_country(customer))
    return {
        "order_id": np.arange(first + 1, first + n + 1, dtype="int64"),
        "timestamp": _order_times(rng, world, first, n), "customer": customer, "event": event, "venue": venue,
        "section": section, "price": price, "quantity": _draw(rng, _cumulative(QUANTITY_SHARES), n) + 1,
        "channel": channel, "payment": payment, "country": country,
        "checkout_seconds": np.maximum(np.exp(rng.normal(np.log(90), 0.55, n)), 5.0).round(1),  # humans: 5 s on
        "kind": np.zeros(n, dtype="int8"),
    }


def _draw_tickets(rng: np.random.Generator, world: World, event: np.ndarray):
    """Each order's venue (its event's), section (one of the venue's) and ticket price in cents."""
    venue = world.event_venue[event]
    section = _draw_per_row(rng, world.section_cdf, venue)
    noise = np.exp(rng.normal(0.0, 0.08, len(event)))
    return venue, section, np.round(world.event_price[event] * SECTION_MULTIPLIERS[section] * noise, 2)


def _home_country(customer: np.ndarray) -> np.ndarray:
    """A customer's country, fixed by its id (a golden-ratio hash spreads the ids evenly over [0, 1))."""
    spread = np.modf(customer * 0.6180339887498949)[0]
    return np.searchsorted(_cumulative(COUNTRY_SHARES), spread, side="right")


def _order_times(rng: np.random.Generator, world: World, first: int, n: int) -> np.ndarray:
    """Unix seconds of rows ``first`` to ``first + n``, non-decreasing across the whole file.

    Row ``i`` of ``rows`` takes a quantile in ``[i, i + 1) / rows`` of the hourly rhythm: so the times
    rise from row to row whichever chunk draws them, and each hour gets its share of the orders.
    """
    quantile = (first + np.arange(n) + rng.random(n)) / world.rows
    seconds = np.interp(quantile, world.time_cdf, np.arange(len(world.time_cdf)) * 3600.0)
    return START + np.floor(seconds).astype("int64")


def plant_anomalies(rng: np.random.Generator, world: World, orders: dict[str, np.ndarray], chunk: int,
                    anomaly_rate: float) -> None:
    """Overwrite about ``anomaly_rate`` of a chunk's orders, a fifth of each kind, and mark them in ``kind``."""
    n = len(orders["kind"])
    share = anomaly_rate * n / len(KINDS)
    starts, lengths = _place_bursts(rng, n, share)
    outliers, bulk, impossible, duplicates = _place_singles(rng, n, starts, lengths,
                                                            [_round_randomly(rng, share) for _ in range(4)])
    orders["price"][outliers] = _distort_prices(rng, orders["price"][outliers])
    orders["quantity"][bulk] = rng.integers(30, 201, len(bulk))
    _plant_impossible_combinations(rng, world, orders, impossible)
    _plant_bot_bursts(rng, world, orders, chunk, starts, lengths)
    for rows, kind in ((outliers, PRICE_OUTLIER), (bulk, BULK_BUY), (impossible, IMPOSSIBLE)):
        orders["kind"][rows] = kind
    for name, values in orders.items():  # last: each duplicate copies the normal order before it, as it is
        if name not in ("order_id", "kind"):
            values[duplicates] = values[duplicates - 1]
    orders["kind"][duplicates] = DUPLICATE


def _round_randomly(rng: np.random.Generator, x: float) -> int:
    """``x`` rounded down or up at random, up with probability its fraction: right on average."""
    whole = int(np.floor(x))
    return whole + int(rng.random() < x - whole)


def _place_bursts(rng: np.random.Generator, n: int, share: float) -> tuple[np.ndarray, np.ndarray]:
    """The first rows and lengths (20-60, about ``share`` rows in all) of the bot bursts of a chunk of
    ``n`` rows: each in its own stretch of the chunk, with a normal row before and after it."""
    count = min(_round_randomly(rng, share / BURST_MEAN), (n - 2) // 64)
    if count <= 0:  # none due, or a chunk too short for one (the last may hold a single row)
        return np.zeros(0, dtype="int64"), np.zeros(0, dtype="int64")
    raw = rng.integers(20, 61, count)
    lengths = np.clip(np.rint(raw * share / raw.sum()), 20, 60).astype("int64")
    stretch = (n - 2) // count  # at least 64 rows, so a block of 60 fits with a row to spare either side
    starts = 1 + np.arange(count) * stretch + np.floor(rng.random(count) * (stretch - lengths - 1)).astype("int64")
    return starts, lengths


def _block_rows(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The rows of the blocks ``starts[i]`` to ``starts[i] + lengths[i]``, in one array."""
    return np.repeat(starts, lengths) + np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)


def _place_singles(rng: np.random.Generator, n: int, starts: np.ndarray, lengths: np.ndarray,
                   counts: list[int]) -> list[np.ndarray]:
    """Rows for ``counts[k]`` anomalies of each single-row kind, away from the bursts: the odd row of a
    free pair of rows (2j, 2j + 1), so that the row before every anomaly is a normal one."""
    blocked = np.zeros(n, dtype=bool)
    blocked[_block_rows(starts, lengths)] = True
    blocked[starts - 1] = blocked[starts + lengths] = True
    pairs = n // 2
    free = np.flatnonzero(~blocked[0:2 * pairs:2] & ~blocked[1:2 * pairs:2])
    chosen = 2 * rng.choice(free, size=min(sum(counts), len(free)), replace=False) + 1
    return [np.sort(rows) for rows in np.split(chosen, np.cumsum(counts)[:-1])]


def _distort_prices(rng: np.random.Generator, price: np.ndarray) -> np.ndarray:
    """Prices 8-20 times dearer or 10-50 times cheaper (half each), in cents, at least one cent."""
    dearer = rng.random(len(price)) < 0.5
    factor = np.where(dearer, rng.uniform(8, 20, len(price)), rng.uniform(0.02, 0.1, len(price)))
    return np.maximum(np.round(price * factor, 2), 0.01)


def _plant_impossible_combinations(rng: np.random.Generator, world: World, orders: dict[str, np.ndarray],
                                   rows: np.ndarray) -> None:
    """One of three combinations no normal order has, a third each: the box office with paypal, apple_pay
    or invoice; an invoice through the web or the app; the box office for a buyer from abroad."""
    variant = rng.integers(0, 3, len(rows))
    box_office = variant != 1
    orders["channel"][rows] = np.where(box_office, BOX_OFFICE, rng.choice([WEB, APP], len(rows)))
    odd_payment = np.array([PAYPAL, APPLE_PAY, INVOICE])[rng.integers(0, 3, len(rows))]
    usual_payment = np.array([CARD, CASH])[rng.integers(0, 2, len(rows))]
    orders["payment"][rows] = np.where(variant == 0, odd_payment, np.where(variant == 1, INVOICE, usual_payment))
    local = world.venue_country[orders["venue"][rows]]
    abroad = (local + rng.integers(1, len(COUNTRIES), len(rows))) % len(COUNTRIES)
    home = _home_country(orders["customer"][rows])
    orders["country"][rows] = np.where(variant == 0, local, np.where(variant == 1, home, abroad))


def _plant_bot_bursts(rng: np.random.Generator, world: World, orders: dict[str, np.ndarray], chunk: int,
                      starts: np.ndarray, lengths: np.ndarray) -> None:
    """Turn each block of rows into a burst: one new customer, one event, 8 tickets an order, checked out in
    0.2-2 s through the web or the app, within 10 s of the block's first order (and no later than the
    normal order after the block, so that the times stay in order)."""
    if len(starts) == 0:
        return
    rows = _block_rows(starts, lengths)
    burst = np.repeat(np.arange(len(starts)), lengths)
    event = _draw(rng, world.event_cdf, len(starts))[burst]
    venue, section, price = _draw_tickets(rng, world, event)
    times = orders["timestamp"]
    after = np.sort(burst + rng.random(len(rows))) - burst  # ascending within each burst
    late = times[starts + lengths][burst]
    bot = world.customer_pool + 1 + chunk * BURSTS_PER_CHUNK + np.arange(len(starts))  # ids no one else has
    values = {"timestamp": np.minimum(times[starts][burst] + np.floor(10 * after).astype("int64"), late),
              "customer": bot[burst], "event": event, "venue": venue, "section": section, "price": price,
              "quantity": 8, "channel": rng.choice([WEB, APP], len(starts))[burst],
              "payment": np.array([CARD, PAYPAL, APPLE_PAY])[rng.integers(0, 3, len(starts))][burst],
              "country": _draw(rng, _cumulative(COUNTRY_SHARES), len(starts))[burst],
              "checkout_seconds": rng.uniform(0.2, 2.0, len(rows)).round(2), "kind": BOT_BURST}
    for name, value in values.items():
        orders[name][rows] = value


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
