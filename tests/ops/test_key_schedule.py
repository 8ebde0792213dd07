"""Key states by the clock: next → current → retired → expired, and when a scheduled rotation is due."""

from __future__ import annotations

import math

import pytest

from app.security.key_schedule import CURRENT, EXPIRED, NEXT, RETIRED, rotation_due, schedule
from app.security.keys import KeyFile

RETENTION = 900  # e.g. 600 s of token lifetime + 300 s of verifier leeway
A, B, C = (KeyFile(1000, "a" * 43), KeyFile(5000, "b" * 43), KeyFile(9000, "c" * 43))


def states_at(now: float, *keys: KeyFile) -> dict[str, str]:
    return {s.kid[0]: s.state for s in schedule(list(keys), now, RETENTION).states}


@pytest.mark.parametrize(
    "now, expected",
    [
        (999, {"a": CURRENT, "b": NEXT, "c": NEXT}),  # nothing has started: the oldest key signs
        (1000, {"a": CURRENT, "b": NEXT, "c": NEXT}),
        (4999, {"a": CURRENT, "b": NEXT, "c": NEXT}),
        (5000, {"a": RETIRED, "b": CURRENT, "c": NEXT}),  # b takes over exactly at its activation
        (5899, {"a": RETIRED, "b": CURRENT, "c": NEXT}),  # a's last tokens may still be in use
        (5900, {"a": EXPIRED, "b": CURRENT, "c": NEXT}),  # ... and now none can be
        (9000, {"a": EXPIRED, "b": RETIRED, "c": CURRENT}),
        (9900, {"a": EXPIRED, "b": EXPIRED, "c": CURRENT}),
    ],
)
def test_states_follow_the_clock(now, expected):
    assert states_at(now, C, A, B) == expected  # the order of the files does not matter


def test_a_single_key_signs_at_once_whatever_its_activation_time():
    assert states_at(0, A) == {"a": CURRENT}
    assert states_at(10**9, A) == {"a": CURRENT}


def test_the_schedule_says_when_it_next_changes():
    plan = schedule([A, B, C], 6000, RETENTION)
    assert plan.changes_at == 9000  # c activates (a expired at 5900, already past)
    assert schedule([A, B, C], 9000, RETENTION).changes_at == 9900  # b expires
    assert schedule([A, B, C], 9900, RETENTION).changes_at == math.inf


def test_retire_and_removal_times_come_from_the_successor():
    by_kid = {s.kid[0]: s for s in schedule([A, B, C], 6000, RETENTION).states}
    assert (by_kid["a"].retires_at, by_kid["a"].removable_at) == (5000, 5900)
    assert (by_kid["b"].retires_at, by_kid["b"].removable_at) == (9000, 9900)
    assert (by_kid["c"].retires_at, by_kid["c"].removable_at) == (None, None)
    assert [s.published for s in schedule([A, B, C], 6000, RETENTION).states] == [False, True, True]


def test_no_keys_no_current():
    plan = schedule([], 1000, RETENTION)
    assert plan.current is None and plan.states == () and plan.changes_at == math.inf


DAY = 86400


@pytest.mark.parametrize(
    "keys, now, rotation_seconds, due",
    [
        ([A], 1000 + 90 * DAY - 3600 - 1, 90 * DAY, False),
        ([A], 1000 + 90 * DAY - 3600, 90 * DAY, True),  # the successor will sign exactly 90 days after A
        ([A], 10**10, 0, False),  # 0 switches the schedule off
        ([A, KeyFile(10**10, "n" * 43)], 10**9, 90 * DAY, False),  # a next key is already on its way
    ],
)
def test_rotation_is_due_a_publish_delay_before_the_period_ends(keys, now, rotation_seconds, due):
    assert rotation_due(schedule(keys, now, RETENTION), now, rotation_seconds, 3600) is due
