"""The ticket-sales world and its normal orders (see :mod:`~torchworks.tasks.anomaly_detection.generator`):
venues, sections, events and customers drawn once from the seed, and orders drawn from them a chunk at a
time, as arrays of codes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK_ROWS = 500_000  # rows drawn at a time, each chunk from its own stream: part of what fixes the output
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
BURSTS_PER_CHUNK = CHUNK_ROWS // 20  # at most this many bursts a chunk: it numbers the bots' customer ids
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
                 section_cdf=cumulative(weights), event_venue=rng.integers(0, len(VENUES), EVENTS),
                 event_price=np.clip(np.exp(rng.normal(np.log(55), 0.55, EVENTS)), 20, 250).round(2),
                 event_cdf=cumulative(popularity), customer_pool=pool,
                 customer_key=(multiplier, int(rng.integers(0, pool))), customer_digits=max(7, len(str(bot_ids))),
                 time_cdf=np.r_[0.0, cumulative(rate)])


def cumulative(weights: np.ndarray) -> np.ndarray:
    """Cumulative shares along the last axis, ending at exactly 1."""
    cdf = np.cumsum(weights, axis=-1)
    cdf /= cdf[..., -1:]
    cdf[..., -1] = 1.0
    return cdf


def draw(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    """``n`` indices drawn with the cumulative shares ``cdf``."""
    return np.searchsorted(cdf, rng.random(n), side="right")


def draw_per_row(rng: np.random.Generator, cdf: np.ndarray, which: np.ndarray) -> np.ndarray:
    """One index per row ``i`` drawn with the cumulative shares ``cdf[which[i]]``, in one search."""
    # cdf's rows offset by their number make one sorted array; u < 1 - 1e-9 keeps a draw inside its row
    flat = (np.arange(len(cdf))[:, None] + cdf).ravel()
    u = rng.random(len(which)) * (1 - 1e-9)
    return np.searchsorted(flat, which + u, side="right") - which * cdf.shape[1]


def draw_orders(rng: np.random.Generator, world: World, first: int, n: int) -> dict[str, np.ndarray]:
    """``n`` normal orders from row ``first`` on, as arrays (codes for the text columns, ``kind`` all 0)."""
    event = draw(rng, world.event_cdf, n)
    venue, section, price = draw_tickets(rng, world, event)
    channel = draw(rng, cumulative(np.array(CHANNEL_SHARES)), n)
    payment = draw_per_row(rng, cumulative(PAYMENT_SHARES), channel)
    rank = np.floor(world.customer_pool * rng.random(n) ** CUSTOMER_SKEW).astype("int64")  # low ranks buy often
    multiplier, shift = world.customer_key
    customer = (rank * multiplier + shift) % world.customer_pool + 1  # so that the busiest ids are spread out
    country = np.where(channel == BOX_OFFICE, world.venue_country[venue], home_country(customer))
    return {
        "order_id": np.arange(first + 1, first + n + 1, dtype="int64"),
        "timestamp": _order_times(rng, world, first, n), "customer": customer, "event": event, "venue": venue,
        "section": section, "price": price, "quantity": draw(rng, cumulative(QUANTITY_SHARES), n) + 1,
        "channel": channel, "payment": payment, "country": country,
        "checkout_seconds": np.maximum(np.exp(rng.normal(np.log(90), 0.55, n)), 5.0).round(1),  # humans: 5 s on
        "kind": np.zeros(n, dtype="int8"),
    }


def draw_tickets(rng: np.random.Generator, world: World, event: np.ndarray):
    """Each order's venue (its event's), section (one of the venue's) and ticket price in cents."""
    venue = world.event_venue[event]
    section = draw_per_row(rng, world.section_cdf, venue)
    noise = np.exp(rng.normal(0.0, 0.08, len(event)))
    return venue, section, np.round(world.event_price[event] * SECTION_MULTIPLIERS[section] * noise, 2)


def home_country(customer: np.ndarray) -> np.ndarray:
    """A customer's country, fixed by its id (a golden-ratio hash spreads the ids evenly over [0, 1))."""
    spread = np.modf(customer * 0.6180339887498949)[0]
    return np.searchsorted(cumulative(COUNTRY_SHARES), spread, side="right")


def _order_times(rng: np.random.Generator, world: World, first: int, n: int) -> np.ndarray:
    """Unix seconds of rows ``first`` to ``first + n``, non-decreasing across the whole file.

    Row ``i`` of ``rows`` takes a quantile in ``[i, i + 1) / rows`` of the hourly rhythm: so the times
    rise from row to row whichever chunk draws them, and each hour gets its share of the orders.
    """
    quantile = (first + np.arange(n) + rng.random(n)) / world.rows
    seconds = np.interp(quantile, world.time_cdf, np.arange(len(world.time_cdf)) * 3600.0)
    return START + np.floor(seconds).astype("int64")
