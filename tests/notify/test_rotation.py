"""Rotations: who is on call at an instant, handoffs at local wall-clock time across DST changes, overrides."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.notify.rotation import now_and_next, shift_at
from bot.paging_config import Schedule

WEEKLY = Schedule("primary", ("A", "B", "C"), "weekly", time(9, 0), 0, "America/New_York", date(2027, 3, 1))
DAILY = Schedule("night", ("A", "B"), "daily", time(1, 30), None, "America/New_York", date(2027, 3, 1))


@dataclass
class Row:
    id: int
    user_id: str
    starts_at: datetime
    ends_at: datetime


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_weekly_handoff_stays_at_local_time_across_spring_forward():
    # Wed 2027-03-10: the second shift (B), from Mon 03-08 09:00 EST (14:00 UTC) to Mon 03-15 09:00 EDT (13:00 UTC).
    shift = shift_at(WEEKLY, utc(2027, 3, 10, 15, 0))
    assert shift.user_id == "B"
    assert shift.starts_at == utc(2027, 3, 8, 14, 0) and shift.ends_at == utc(2027, 3, 15, 13, 0)
    assert shift.ends_at - shift.starts_at == timedelta(hours=167)
    assert shift_at(WEEKLY, utc(2027, 3, 15, 12, 59)).user_id == "B"
    assert shift_at(WEEKLY, utc(2027, 3, 15, 13, 0)).user_id == "C"
    assert shift_at(WEEKLY, utc(2027, 3, 22, 13, 0)).user_id == "A"  # the rotation wraps around


def test_weekly_across_fall_back_and_before_start():
    shift = shift_at(WEEKLY, utc(2027, 11, 5, 12, 0))  # Fri before the change on Sun 11-07
    assert shift.ends_at == utc(2027, 11, 8, 14, 0)  # Mon 09:00 EST
    assert shift.ends_at - shift.starts_at == timedelta(hours=169)
    assert shift_at(WEEKLY, utc(2027, 2, 25, 12, 0)).user_id == "C"  # the week before `start` is the last member's


def test_daily_handoff_in_the_hour_that_does_not_exist():
    # 01:30 local every day; on 2027-03-14 clocks jump from 02:00 to 03:00, 01:30 still exists: 06:30 UTC, then
    # 05:30 UTC the next day (EDT).
    assert shift_at(DAILY, utc(2027, 3, 14, 6, 29)).user_id == shift_at(DAILY, utc(2027, 3, 13, 7, 0)).user_id
    shift = shift_at(DAILY, utc(2027, 3, 14, 7, 0))
    assert shift.starts_at == utc(2027, 3, 14, 6, 30) and shift.ends_at == utc(2027, 3, 15, 5, 30)
    assert shift.ends_at - shift.starts_at == timedelta(hours=23)


def test_override_wins_until_it_ends_and_the_latest_override_wins():
    at = utc(2027, 3, 10, 15, 0)
    rows = [
        Row(1, "X", at - timedelta(hours=1), at + timedelta(hours=8)),
        Row(2, "Y", at - timedelta(minutes=5), at + timedelta(hours=2)),
    ]
    now, following = now_and_next(WEEKLY, at, rows)
    assert (now.user_id, now.override, now.ends_at) == ("Y", True, at + timedelta(hours=2))
    assert (following.user_id, following.ends_at) == ("X", at + timedelta(hours=8))
    after = shift_at(WEEKLY, at + timedelta(hours=8), rows)
    assert (after.user_id, after.override, after.ends_at) == ("B", False, utc(2027, 3, 15, 13, 0))
