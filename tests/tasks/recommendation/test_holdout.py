"""The splits: which events each holds, and the leakage check that proves no held-out event is trained on."""

from __future__ import annotations

import numpy as np
import pytest

from torchworks.errors import DataError
from torchworks.tasks.recommendation.holdout import Split, check_no_leakage, choose_split, split_events


def log(users_events: dict[int, int], seed: int = 0):
    """Users with the given numbers of events, at distinct shuffled times; items are distinct per user."""
    rng = np.random.default_rng(seed)
    users = np.concatenate([np.full(n, user) for user, n in users_events.items()])
    times = rng.permutation(len(users)).astype(np.int64) * 10
    items = np.arange(len(users)) % 37
    order = np.arange(len(users))
    return users, items, times, order


def test_leave_last_out_holds_each_users_last_event_for_test_and_the_one_before_for_validation():
    users, items, times, order = log({0: 5, 1: 3, 2: 2, 3: 1})
    split = split_events("last", users, times, order, val_fraction=0.1, test_fraction=0.1, seed=0)
    for user in range(4):
        mine = np.flatnonzero(users == user)
        by_time = mine[np.argsort(times[mine])]
        if len(mine) >= 2:
            assert list(split.test[np.isin(split.test, mine)]) == [by_time[-1]]
        if len(mine) >= 3:
            assert list(split.val[np.isin(split.val, mine)]) == [by_time[-2]]
    assert not np.isin(np.flatnonzero(users == 3), np.r_[split.val, split.test]).any()  # one event: trained on
    assert sorted(np.r_[split.train, split.val, split.test]) == list(range(len(users)))
    check_no_leakage(split, users, items, times)


def test_ties_in_time_are_broken_by_file_order():
    users = np.zeros(3, dtype=np.int64)
    times, order = np.array([7, 7, 7]), np.array([2, 0, 1])
    split = split_events("last", users, times, order, val_fraction=0.1, test_fraction=0.1, seed=0)
    assert list(split.test) == [0] and list(split.val) == [2]  # line 2 is the last, line 1 the one before


def test_a_global_time_cut_trains_only_on_the_past():
    users, items, times, order = log({user: 10 for user in range(20)})
    split = split_events("time", users, times, order, val_fraction=0.1, test_fraction=0.2, seed=0)
    assert times[split.train].max() < times[split.val].min() <= times[split.val].max() < times[split.test].min()
    assert len(split.test) == pytest.approx(0.2 * len(users), abs=1)
    check_no_leakage(split, users, items, times)


def test_random_per_user_holds_out_a_share_of_every_user_and_is_seeded():
    users, items, times, order = log({user: 20 for user in range(10)})
    first = split_events("random", users, times, order, val_fraction=0.1, test_fraction=0.2, seed=3)
    again = split_events("random", users, times, order, val_fraction=0.1, test_fraction=0.2, seed=3)
    other = split_events("random", users, times, order, val_fraction=0.1, test_fraction=0.2, seed=4)
    assert np.array_equal(first.test, again.test) and not np.array_equal(first.test, other.test)
    assert np.bincount(users[first.test]).tolist() == [4] * 10 and np.bincount(users[first.val]).tolist() == [2] * 10


def test_a_planted_test_interaction_in_training_is_caught():
    users, items, times, order = log({0: 6, 1: 6})
    split = split_events("last", users, times, order, val_fraction=0.1, test_fraction=0.1, seed=0)
    planted = Split(split.method, np.r_[split.train, split.test[:1]], split.val, split.test)
    with pytest.raises(DataError, match="leaks: a test interaction is also in training"):
        check_no_leakage(planted, users, items, times)


def test_a_training_event_after_a_users_test_event_is_caught():
    users, items, times, order = log({0: 6})
    split = split_events("last", users, times, order, val_fraction=0.1, test_fraction=0.1, seed=0)
    first = split.train[np.argmin(times[split.train])]
    swapped = Split("last", np.r_[split.train[split.train != first], split.val, split.test], np.array([], int),
                    np.array([first]))  # the user's first event held out as "test", everything later trained on
    with pytest.raises(DataError, match="comes after their test interaction"):
        check_no_leakage(swapped, users, items, times)


def test_a_time_split_whose_training_reaches_past_the_cut_is_caught():
    users, items, times, order = log({user: 10 for user in range(5)})
    split = split_events("time", users, times, order, val_fraction=0.1, test_fraction=0.2, seed=0)
    late = Split("time", np.r_[split.train, split.test[-1:]], split.val, split.test[:-1])
    with pytest.raises(DataError, match="comes after the validation cut"):
        check_no_leakage(late, users, items, times)


def test_auto_picks_last_with_times_and_random_without_and_time_splits_need_times():
    assert choose_split("auto", has_times=True) == "last"
    assert choose_split("auto", has_times=False) == "random"
    with pytest.raises(DataError, match="split=time needs the time"):
        choose_split("time", has_times=False)
