"""The five kinds of anomaly planted among a chunk's normal orders (see
:mod:`~torchworks.tasks.anomaly_detection.generator`), in known rows: price outliers, bulk buys, bot bursts,
impossible combinations and duplicates."""

from __future__ import annotations

import numpy as np

from torchworks.tasks.anomaly_detection.sales_world import (
    APP,
    APPLE_PAY,
    BOX_OFFICE,
    BURSTS_PER_CHUNK,
    CARD,
    CASH,
    COUNTRIES,
    COUNTRY_SHARES,
    INVOICE,
    PAYPAL,
    WEB,
    World,
    cumulative,
    draw,
    draw_tickets,
    home_country,
)

KINDS = ("price_outlier", "bulk_buy", "bot_burst", "impossible_combination", "duplicate")  # codes 1 to 5
PRICE_OUTLIER, BULK_BUY, BOT_BURST, IMPOSSIBLE, DUPLICATE = range(1, 6)
BURST_MEAN = 40  # rows of a bot burst on average


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
    home = home_country(orders["customer"][rows])
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
    event = draw(rng, world.event_cdf, len(starts))[burst]
    venue, section, price = draw_tickets(rng, world, event)
    times = orders["timestamp"]
    after = np.sort(burst + rng.random(len(rows))) - burst  # ascending within each burst
    late = times[starts + lengths][burst]
    bot = world.customer_pool + 1 + chunk * BURSTS_PER_CHUNK + np.arange(len(starts))  # ids no one else has
    values = {"timestamp": np.minimum(times[starts][burst] + np.floor(10 * after).astype("int64"), late),
              "customer": bot[burst], "event": event, "venue": venue, "section": section, "price": price,
              "quantity": 8, "channel": rng.choice([WEB, APP], len(starts))[burst],
              "payment": np.array([CARD, PAYPAL, APPLE_PAY])[rng.integers(0, 3, len(starts))][burst],
              "country": draw(rng, cumulative(COUNTRY_SHARES), len(starts))[burst],
              "checkout_seconds": rng.uniform(0.2, 2.0, len(rows)).round(2), "kind": BOT_BURST}
    for name, value in values.items():
        orders[name][rows] = value
