"""Splits of an interaction log that cannot leak the future into training.

``last`` holds out each user's last interaction for testing and the one before it for validation (the
protocol of most recommender papers, by time); ``time`` cuts the whole log at two moments, so that
nothing after the cut is trained on; ``random`` holds out a random share of each user's interactions
(for logs without times). :func:`check_no_leakage` proves, on every run, that no held-out event is
also a training event and, for the time-ordered splits, that nothing trained on comes after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from torchworks.errors import DataError

SPLITS = ("last", "time", "random")


@dataclass
class Split:
    """Which events (positions in the indexed arrays) train, validate and test, and how they were chosen."""

    method: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    notes: dict[str, object] = field(default_factory=dict)


def choose_split(method: str, has_times: bool) -> str:
    """``auto`` is ``last`` for data with times, else ``random``; ``last``/``time`` need times."""
    if method == "auto":
        return "last" if has_times else "random"
    if method in ("last", "time") and not has_times:
        raise DataError(f"split={method} needs the time of each interaction", expected="a timestamp column "
                        "(timestamp, time, ts, date, ...)", got="no time column",
                        hint="name it with time=COLUMN, or use split=random")
    return method


def split_events(method: str, users: np.ndarray, times: np.ndarray, order: np.ndarray, *, val_fraction: float,
                 test_fraction: float, seed: int) -> Split:
    """The split of events given each one's user index, time and original order (file line).

    Args:
        method: ``last``, ``time`` or ``random`` (see :func:`choose_split`).
        val_fraction: ``time``: share of events after the first cut (validation); ``random``: per user.
        test_fraction: ``time``: share of events after the second cut (test); ``random``: per user.
    """
    if method == "last":
        return _leave_last_out(users, times, order)
    if method == "time":
        return _time_cut(times, val_fraction, test_fraction)
    return _random_per_user(users, val_fraction, test_fraction, seed)


def _leave_last_out(users: np.ndarray, times: np.ndarray, order: np.ndarray) -> Split:
    events = np.lexsort((order, times, users))  # by user, then time, then line
    sorted_users = users[events]
    last = np.r_[sorted_users[1:] != sorted_users[:-1], True]  # the last event of each user
    second = np.r_[last[1:], False] & ~last  # the event just before it
    # a user with a single event keeps it for training; with two, the second is test and nothing validates
    counts = np.bincount(sorted_users, minlength=int(users.max()) + 1)[sorted_users]
    test = last & (counts >= 2)
    val = second & (counts >= 3)
    train = ~(test | val)
    return Split("last", np.sort(events[train]), np.sort(events[val]), np.sort(events[test]),
                 {"split": "each user's last interaction is test, the one before validation"})


def _time_cut(times: np.ndarray, val_fraction: float, test_fraction: float) -> Split:
    ordered = np.sort(times)
    n = len(times)
    test_cut = ordered[min(n - 1, int(np.floor(n * (1 - test_fraction))))]
    val_cut = ordered[min(n - 1, int(np.floor(n * (1 - test_fraction - val_fraction))))]
    if val_cut >= test_cut or ordered[0] >= val_cut:
        raise DataError("the interactions' times do not spread enough for split=time",
                        expected="distinct times before, between and after two cuts",
                        got=f"{len(np.unique(times))} distinct time(s)", hint="use split=last or split=random")
    positions = np.arange(n)
    train = positions[times < val_cut]
    val = positions[(times >= val_cut) & (times < test_cut)]
    test = positions[times >= test_cut]
    return Split("time", train, val, test, {"split": f"global time cuts at {int(val_cut)} and {int(test_cut)}",
                                            "val_cut": int(val_cut), "test_cut": int(test_cut)})


def _random_per_user(users: np.ndarray, val_fraction: float, test_fraction: float, seed: int) -> Split:
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(users))
    events = shuffled[np.argsort(users[shuffled], kind="stable")]  # by user, random within each
    sorted_users = users[events]
    starts = np.r_[0, np.flatnonzero(sorted_users[1:] != sorted_users[:-1]) + 1]
    sizes = np.diff(np.r_[starts, len(events)])
    rank = np.arange(len(events)) - np.repeat(starts, sizes)  # position within the user's shuffled events
    size = np.repeat(sizes, sizes)
    n_test = np.where(size >= 2, np.maximum(1, np.round(size * test_fraction)), 0)
    n_val = np.where(size >= 3, np.maximum(1, np.round(size * val_fraction)), 0)
    n_val = np.minimum(n_val, np.maximum(size - n_test - 1, 0))
    test = rank < n_test
    val = ~test & (rank < n_test + n_val)
    train = ~(test | val)
    return Split("random", np.sort(events[train]), np.sort(events[val]), np.sort(events[test]),
                 {"split": f"a random {test_fraction:.0%} (test) and {val_fraction:.0%} (validation) of each "
                           "user's interactions"})


def check_no_leakage(split: Split, users: np.ndarray, items: np.ndarray, times: np.ndarray) -> None:
    """Refuse a split in which a held-out event is also trained on, or (for ``last`` and ``time``) a
    training event comes after an event held out for the same user (``last``) or anyone (``time``).

    Raises:
        DataError: The first leak found, naming the user, item and time.
    """
    held_out = [(name, held) for name, held in (("validation", split.val), ("test", split.test)) if len(held)]
    train_keys = _event_keys(users[split.train], items[split.train], times[split.train])
    for name, held in held_out:
        shared = _event_keys(users[held], items[held], times[held]).isin(train_keys)
        if shared.any():
            _leak(f"a {name} interaction is also in training", users, items, times, held[np.argmax(shared)])
    for name, held in held_out:
        if split.method == "time" and times[split.train].max(initial=np.iinfo(np.int64).min) > times[held].min():
            _leak(f"a training interaction comes after the {name} cut", users, items, times,
                  split.train[np.argmax(times[split.train])])
        if split.method == "last":
            latest = np.full(int(users.max()) + 1, np.iinfo(np.int64).min)
            np.maximum.at(latest, users[split.train], times[split.train])
            later = latest[users[held]] > times[held]
            if later.any():
                _leak(f"a user's training interaction comes after their {name} interaction", users, items, times,
                      held[np.argmax(later)])


def _event_keys(users: np.ndarray, items: np.ndarray, times: np.ndarray):
    import pandas as pd

    return pd.MultiIndex.from_arrays([users, items, times])


def _leak(what: str, users: np.ndarray, items: np.ndarray, times: np.ndarray, event: int) -> None:
    raise DataError(f"the split leaks: {what}", expected="held-out interactions that training never sees",
                    got=f"user index {int(users[event])}, item index {int(items[event])}, time {int(times[event])}",
                    hint="this is a bug in the split; please report it with the data")
