"""A movie-rating log with known tastes: a catalogue, users in taste clusters, and who rated what, when.

The world it draws, from one seed:

- 18 MovieLens genres. Each movie has 1 to 3 of them, a latent vector (its genres' vectors plus its own
  noise, so that two movies of the same genres still differ), a base popularity from a Zipf law
  (exponent 1) and a release time: three in four belong to the back catalogue, the rest come out during
  the seven months of the log and cannot be rated before they do (and draw a burst of interest when new).
- Ten taste clusters ("action fans", "family", "arthouse"...), each a mixture of genres. A user belongs
  to one (some to a mix of two) with a vector near its centre, which drifts towards another cluster
  over the user's timeline, so a user's last movies follow from the earlier ones, but not trivially.
- Activity follows a power law with at least 20 ratings a user (like ml-100k), in sessions of ratings
  seconds apart, from 1997-09-20 (when ml-100k begins).
- Each user picks movies without replacement with probability softmax(affinity / temperature + log
  popularity) among those released (by the Gumbel top-k trick, in four phases of the user's timeline);
  the rating, 1 to 5 stars, grows with the affinity plus noise.

:func:`make_interactions` writes it in the ml-latest layout (``ratings.csv``, ``movies.csv``) that the
MovieLens reader reads, with the ground truth in ``users.csv``, written last.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from torchworks.datasets import materialize_once, refuse_existing
from torchworks.errors import ConfigError

RATINGS, MOVIES, USERS = "ratings.csv", "movies.csv", "users.csv"
FINISHED = USERS  # written last: its presence marks a finished copy

GENRES = ("Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
          "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western")
# how often each genre is drawn for a movie, roughly MovieLens's shares
GENRE_SHARES = (13, 7, 3, 5, 18, 6, 3, 25, 3, 1, 6, 2, 3, 8, 5, 9, 2, 1)
# cluster name -> (share of users, genre -> weight in the cluster's taste)
CLUSTERS: dict[str, tuple[float, dict[str, float]]] = {
    "action fans": (0.15, {"Action": 3, "Adventure": 2, "Thriller": 1.5, "Sci-Fi": 1, "War": 1}),
    "family": (0.10, {"Children": 3, "Animation": 3, "Comedy": 1.5, "Musical": 1, "Fantasy": 1}),
    "arthouse": (0.08, {"Drama": 3, "Documentary": 2, "Film-Noir": 1.5, "Romance": 0.5}),
    "horror fans": (0.07, {"Horror": 3, "Thriller": 2, "Mystery": 1, "Sci-Fi": 0.5}),
    "romantics": (0.12, {"Romance": 3, "Comedy": 2, "Drama": 1.5, "Musical": 1}),
    "crime buffs": (0.10, {"Crime": 3, "Thriller": 2, "Mystery": 1.5, "Film-Noir": 1}),
    "sci-fi geeks": (0.11, {"Sci-Fi": 3, "Fantasy": 2, "Adventure": 1.5, "Action": 1}),
    "classics": (0.05, {"Western": 3, "War": 2, "Film-Noir": 1.5, "Musical": 1, "Drama": 0.5}),
    "comedy fans": (0.14, {"Comedy": 3, "Romance": 1, "Children": 1, "Crime": 0.5}),
    "history buffs": (0.08, {"War": 3, "Documentary": 2, "Drama": 1.5, "Western": 1}),
}
START = 874_713_600  # 1997-09-20 00:00 UTC
PERIOD = 212 * 86_400  # seven months
DIMENSIONS = 16
PHASES = 4  # steps of a user's drift; availability is judged at the start of each
TEMPERATURE = 0.15
ITEM_NOISE, USER_NOISE = 0.2, 0.2  # per dimension: how far a movie or user strays from its genres or cluster
NEW_SHARE = 0.25  # movies released during the log
MIN_RATINGS = 20
YEAR = 31_556_952  # seconds in an average Gregorian year
NEW_BOOST, NEW_DAYS = 1.5, 30  # a new movie's extra log-odds, fading over about a month

_ADJECTIVES = ("Silent Broken Golden Last Hidden Crimson Distant Wild Frozen Secret Lonely Burning Lost Dark Bright "
               "Endless Quiet Savage Gentle Fallen Electric Midnight Hollow Iron Velvet Restless Forgotten Scarlet "
               "Silver Shattered Northern Wicked Sweet Strange Final Little Brave Eternal Perfect Dangerous").split()
_NOUNS = ("Harbour River Kingdom Promise Summer Road Garden Storm Mirror Horizon Station Frontier Dream Empire "
          "Letter Island Shadow Winter Machine Game Journey Heart Witness Circle Valley Signal Voyage Stranger "
          "Legacy Orchard Avenue Canyon Lighthouse Carnival Border Symphony Experiment Bargain Reunion Fortune").split()
_PLACES = ("Paris Memphis Berlin Tokyo Nevada Brooklyn Venice Alaska Havana Dublin Cairo Texas Montana Lisbon "
           "Chicago Marseille Bombay Yukon").split()
_PATTERNS = ("The {a} {n}", "{a} {n}", "The {n} of {p}", "A {n} in {p}", "{n} of the {a} {m}", "Return to {p}",
             "The {a} {n} Affair", "{p} {n}")


@dataclass
class GeneratedLog:
    """What :func:`generate_log` draws: the three tables and the movies' release times (unix seconds)."""

    ratings: pd.DataFrame  # userId, movieId, rating (1-5), timestamp; by user then time
    movies: pd.DataFrame  # movieId, title, genres ("A|B")
    users: pd.DataFrame  # userId, cluster, mixed_with, drifts_to, drift, activity
    released: np.ndarray  # per movie, in movieId order


def make_interactions(out: Path, n_users: int = 1000, n_items: int = 1700, n_interactions: int = 100_000,
                      seed: int = 0, progress: bool = True) -> Path:
    """Write a generated movie-rating log into ``out`` (a new or empty folder) in the ml-latest layout.

    ``ratings.csv`` (userId,movieId,rating,timestamp; whole stars 1-5), ``movies.csv`` (movieId,title,genres)
    and the ground truth ``users.csv`` (userId,cluster,mixed_with,drifts_to,drift,activity). The same
    arguments give the same bytes. About a second for the defaults; the time grows with
    ``n_users x n_items``.

    Args:
        out: The folder to write.
        n_users: Users, 10 to 1,000,000.
        n_items: Movies, 10 to 1,000,000.
        n_interactions: Ratings in all: at least 5 a user, at most half of ``n_users x n_items`` and 50 million.
            Each user rates at least ``min(20, n_interactions // n_users)``.
        seed: The random seed.
        progress: Show a progress bar.

    Returns:
        ``out``.

    Raises:
        ConfigError: An argument is out of range.
        DataError: ``out`` exists and is not an empty folder.
    """
    check_arguments(n_users, n_items, n_interactions, seed)
    out = Path(out)
    refuse_existing(out, "the movies interaction log")
    materialize_once(out, lambda folder: write_log(folder, n_users, n_items, n_interactions, seed, progress))
    return out


def check_arguments(n_users: int, n_items: int, n_interactions: int, seed: int) -> None:
    """Refuse sizes no log should be drawn with.

    Raises:
        ConfigError: An argument is out of range.
    """
    if not 10 <= n_users <= 1_000_000:
        raise ConfigError("n_users is out of range", expected="10 to 1,000,000 users", got=str(n_users))
    if not 10 <= n_items <= 1_000_000:
        raise ConfigError("n_items is out of range", expected="10 to 1,000,000 items", got=str(n_items))
    high = min(50_000_000, n_users * n_items // 2)
    if not n_users * 5 <= n_interactions <= high:
        raise ConfigError("n_interactions is out of range", expected=f"{n_users * 5:,} (5 a user) to {high:,} (half "
                          "of n_users x n_items, at most 50 million)", got=f"{n_interactions:,}",
                          hint="change n_interactions, or n_users and n_items with it")
    if seed < 0:
        raise ConfigError("seed is out of range", expected="a whole number from 0", got=str(seed))


def write_log(folder: Path, n_users: int, n_items: int, n_interactions: int, seed: int, progress: bool) -> None:
    """Draw the log and write its three files into ``folder``, ``users.csv`` last."""
    log = generate_log(n_users, n_items, n_interactions, seed, progress)
    log.ratings.to_csv(folder / RATINGS, index=False, float_format="%.1f")
    log.movies.to_csv(folder / MOVIES, index=False)
    log.users.to_csv(folder / USERS, index=False, float_format="%.3f")


def generate_log(n_users: int, n_items: int, n_interactions: int, seed: int = 0,
                 progress: bool = False) -> GeneratedLog:
    """Draw the catalogue, the users and their ratings (see the module's description).

    Args:
        n_users, n_items, n_interactions, seed: As for :func:`make_interactions` (checked there).
        progress: Show a progress bar over the users.
    """
    rng = np.random.default_rng(seed)
    genre_vectors = _unit(rng.normal(size=(len(GENRES), DIMENSIONS)))
    movies, vectors, log_popularity, quality, released = _catalogue(rng, n_items, genre_vectors)
    users, base, target, drift, bias = _users(rng, n_users, genre_vectors)
    low = min(MIN_RATINGS, n_interactions // n_users)
    counts = _activity(rng, n_users, n_interactions, low, max(low, int(0.45 * n_items), -(-n_interactions // n_users)))
    times = _timeline(rng, counts)
    picks, affinity = _choose(rng, counts, times, base, target, drift, vectors, log_popularity, released, progress)
    owner = np.repeat(np.arange(n_users), counts)
    # about 3%, 12%, 30%, 34% and 21% of 1 to 5 stars, near ml-100k's shares (6, 11, 27, 34, 21)
    stars = 2.85 + 0.6 * affinity + quality[np.maximum(picks, 0)] + bias[owner] + rng.normal(0, 0.8, len(picks))
    kept = picks >= 0  # a pick can fail only when too few movies were out; none do in the ranges allowed
    ratings = pd.DataFrame({"userId": owner[kept] + 1, "movieId": picks[kept] + 1,
                            "rating": np.clip(np.rint(stars[kept]), 1, 5), "timestamp": times[kept]})
    users["activity"] = np.bincount(owner[kept], minlength=n_users)
    return GeneratedLog(ratings=ratings, movies=movies, users=users, released=released)


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def _catalogue(rng: np.random.Generator, n: int, genre_vectors: np.ndarray):
    """Movies (ids in order of release: the back catalogue, then the new ones) with their hidden traits."""
    shares = np.asarray(GENRE_SHARES, dtype="float64") / sum(GENRE_SHARES)
    how_many = rng.choice([1, 2, 3], size=n, p=[0.45, 0.4, 0.15])
    keys = -np.log(rng.random((n, len(GENRES)))) / shares  # exponential keys: weighted sampling w/o replacement
    order = np.argsort(keys, axis=1)
    member = np.zeros((n, len(GENRES)), dtype=bool)
    for k in range(3):
        member[np.arange(n)[how_many > k], order[how_many > k, k]] = True
    vectors = _unit(member @ genre_vectors / how_many[:, None] + rng.normal(0, ITEM_NOISE, (n, DIMENSIONS)))
    new = np.zeros(n, dtype=bool)
    new[n - int(round(NEW_SHARE * n)):] = True  # ids run in release order, as MovieLens's roughly do
    years = 1997 - np.minimum(rng.exponential(12, n), 70).astype("int64")
    released = np.where(new, START + np.sort(rng.uniform(-30 * 86_400, PERIOD - 14 * 86_400, n)),
                        (years - 1970) * YEAR).astype("int64")  # the back catalogue: on 1 January of its year
    years = np.where(new, 1997 + (released >= 883_612_800), years)  # 1998-01-01
    rank = rng.permutation(n) + 1
    log_popularity = -1.0 * np.log(rank)  # Zipf, exponent 1
    quality = 0.25 * (log_popularity - log_popularity.mean()) / (log_popularity.std() + 1e-9) + rng.normal(0, 0.3, n)
    names = np.array(GENRES)
    genres = ["|".join(names[row]) for row in member]
    movies = pd.DataFrame({"movieId": np.arange(1, n + 1), "title": _titles(rng, years), "genres": genres})
    return movies, vectors, log_popularity, quality, released


def _titles(rng: np.random.Generator, years: np.ndarray) -> list[str]:
    """Made-up titles with the year, unique: a repeated name becomes a sequel ("Lost Road 2 (1994)")."""
    n = len(years)
    pattern, adjective, noun, other, place = (rng.integers(0, len(words), n) for words in
                                              (_PATTERNS, _ADJECTIVES, _NOUNS, _NOUNS, _PLACES))
    seen: dict[str, int] = {}
    titles = []
    for i in range(n):
        name = _PATTERNS[pattern[i]].format(a=_ADJECTIVES[adjective[i]], n=_NOUNS[noun[i]], m=_NOUNS[other[i]],
                                            p=_PLACES[place[i]])
        seen[name] = seen.get(name, 0) + 1
        titles.append(f"{name}{f' {seen[name]}' if seen[name] > 1 else ''} ({years[i]})")
    return titles


def _users(rng: np.random.Generator, n: int, genre_vectors: np.ndarray):
    """Each user's cluster (and the one mixed in, for some), base taste, drift target and rating bias."""
    names = list(CLUSTERS)
    shares = np.array([CLUSTERS[name][0] for name in names])
    weights = np.array([[CLUSTERS[name][1].get(genre, 0.0) for genre in GENRES] for name in names])
    centres = _unit(weights @ genre_vectors)
    cluster = rng.choice(len(names), size=n, p=shares / shares.sum())
    second = (cluster + rng.integers(1, len(names), n)) % len(names)
    mixed = rng.random(n) < 0.3
    mix = np.where(mixed, rng.uniform(0.2, 0.45, n), 0.0)
    base = _unit((1 - mix)[:, None] * centres[cluster] + mix[:, None] * centres[second]
                 + rng.normal(0, USER_NOISE, (n, DIMENSIONS)))
    towards = (cluster + rng.integers(1, len(names), n)) % len(names)
    drift = rng.uniform(0.15, 0.6, n)
    bias = rng.normal(0, 0.4, n)
    users = pd.DataFrame({"userId": np.arange(1, n + 1), "cluster": np.array(names)[cluster],
                          "mixed_with": np.where(mixed, np.array(names)[second], ""),
                          "drifts_to": np.array(names)[towards], "drift": drift})
    return users, base, centres[towards], drift, bias


def _activity(rng: np.random.Generator, n: int, total: int, low: int, cap: int) -> np.ndarray:
    """Ratings per user: ``low`` plus a power-law share of the rest, none above ``cap``, summing to ``total``."""
    weights = rng.pareto(2.5, n)  # Lomax: median about a third of the mean, as in ml-100k
    extra, room = total - low * n, cap - low
    share = np.zeros(n)
    free = np.ones(n, dtype=bool)
    while True:  # water-filling: users over the cap get the cap, the rest share what remains
        share[free] = (extra - room * (~free).sum()) * weights[free] / weights[free].sum()
        over = free & (share > room)
        if not over.any():
            break
        share[over], free[over] = room, False
    whole = np.floor(share).astype("int64")
    short = int(extra - whole.sum())
    whole[np.argsort(-(share - whole), kind="stable")[:short]] += 1  # the largest remainders round up
    return low + whole


def _timeline(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """Each user's rating times, ascending: sessions in a window of the period, ratings seconds apart in each."""
    n, total = len(counts), int(counts.sum())
    start = rng.uniform(0, 0.97 * PERIOD, n)
    # most users rate everything within a few days, a few over months (median about 2 days, 90th centile a month)
    span = np.minimum(PERIOD - start, rng.exponential(25 * 86_400, n) * rng.random(n) ** 2 * 3)
    sessions = np.minimum(counts, 1 + rng.poisson(counts / 30))
    owner = np.repeat(np.arange(n), counts)
    rank = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    session = np.repeat(np.cumsum(sessions) - sessions, counts) + rank * sessions[owner] // counts[owner]
    session_owner = np.repeat(np.arange(n), sessions)
    when = np.sort(session_owner + rng.random(len(session_owner))) - session_owner  # sorted within each user
    session_start = start[session_owner] + when * span[session_owner]
    gaps = 5 + rng.exponential(40, total)
    elapsed = np.cumsum(gaps)
    first = np.flatnonzero(np.r_[True, session[1:] != session[:-1]])
    elapsed -= np.repeat(elapsed[first] - gaps[first], np.diff(np.r_[first, total]))
    times = np.minimum(START + session_start[session] + elapsed, START + PERIOD).astype("int64")
    return times[np.lexsort((times, owner))]


def _choose(rng: np.random.Generator, counts: np.ndarray, times: np.ndarray, base: np.ndarray, target: np.ndarray,
            drift: np.ndarray, vectors: np.ndarray, log_popularity: np.ndarray, released: np.ndarray,
            progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each rating's movie (-1 where none could be drawn) and its affinity to the user (z-score among movies)."""
    from torchworks.progress import track

    offsets = np.cumsum(counts) - counts
    picks = np.full(int(counts.sum()), -1, dtype="int64")
    affinity = np.zeros(len(picks))
    size = max(1, min(len(counts), 2_000_000 // len(vectors)))  # users at a time: a few score matrices in memory
    firsts = range(0, len(counts), size)
    for first in track(firsts, "drawing ratings", total=len(firsts), enabled=progress):
        users = np.arange(first, min(first + size, len(counts)))
        chosen = np.zeros((len(users), len(vectors)), dtype=bool)
        for phase in range(PHASES):
            low = counts[users] * phase // PHASES
            want = counts[users] * (phase + 1) // PHASES - low
            if want.max() == 0:
                continue
            step = drift[users] * (phase + 0.5) / PHASES
            taste = _unit((1 - step)[:, None] * base[users] + step[:, None] * target[users])
            now = times[offsets[users] + np.minimum(low, counts[users] - 1)]
            rows, slots, items, scores = _draw_phase(rng, taste, now, chosen, want, vectors, log_popularity, released)
            where = offsets[users][rows] + low[rows] + slots
            picks[where] = items
            affinity[where] = scores
    return picks, affinity


def _draw_phase(rng: np.random.Generator, taste: np.ndarray, now: np.ndarray, chosen: np.ndarray, want: np.ndarray,
                vectors: np.ndarray, log_popularity: np.ndarray, released: np.ndarray):
    """``want[u]`` movies for each user ``u`` of a chunk, without replacement: the Gumbel top-k of the logits.

    Returns the row, the slot (0 = first pick) and the movie of each pick (-1 when too few were out), and
    the pick's affinity as a z-score among all movies; marks the picks in ``chosen``.
    """
    affinity = taste @ vectors.T
    age = now[:, None] - released[None, :]
    logits = affinity / TEMPERATURE + log_popularity + NEW_BOOST * np.exp(-np.maximum(age, 0) / (NEW_DAYS * 86_400))
    logits[(age < 0) | chosen] = -np.inf
    keys = logits + rng.gumbel(size=logits.shape)
    most = int(want.max())
    top = np.argpartition(-keys, most - 1, axis=1)[:, :most]
    top = np.take_along_axis(top, np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1, kind="stable"), axis=1)
    rows, slots = np.nonzero(np.arange(most)[None, :] < want[:, None])
    items = top[rows, slots]
    drawn = np.isfinite(keys[rows, items])
    chosen[rows[drawn], items[drawn]] = True
    z = (affinity - affinity.mean(axis=1, keepdims=True)) / affinity.std(axis=1, keepdims=True)
    return rows, slots, np.where(drawn, items, -1), z[rows, items]
