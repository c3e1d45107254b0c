"""Who is on call: a schedule's rotation and its overrides at a given instant (rules only, no I/O).

Handoffs are wall-clock times in the schedule's time zone: the shift boundaries are computed on local dates and
only then made aware with zoneinfo, so a weekly 09:00 handoff stays at 09:00 local across a DST change (the
shift that spans the change is an hour shorter or longer). Shifts are counted from the first handoff on or after
the schedule's `start` date; shift n belongs to members[n mod len(members)].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from bot.paging_config import Schedule


class Override(Protocol):
    user_id: str
    starts_at: datetime
    ends_at: datetime
    id: int


@dataclass(frozen=True)
class Shift:
    user_id: str
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC: the next change of who is on call
    override: bool = False


def _period(schedule: Schedule) -> int:
    return 7 if schedule.rotation == "weekly" else 1


def _handoff(schedule: Schedule, day: date) -> datetime:
    """The handoff of local date `day`, in UTC (arithmetic on aware datetimes of one zone ignores DST)."""
    return datetime.combine(day, schedule.handoff_time, tzinfo=schedule.zone).astimezone(UTC)


def _anchor(schedule: Schedule) -> date:
    """The local date of the first handoff on or after `start`."""
    if schedule.handoff_day is None:
        return schedule.start
    return schedule.start + timedelta(days=(schedule.handoff_day - schedule.start.weekday()) % 7)


def rotation_shift(schedule: Schedule, at: datetime) -> Shift:
    """The rotation's shift (overrides aside) that contains `at`."""
    period = _period(schedule)
    day = at.astimezone(schedule.zone).date()
    if schedule.handoff_day is not None:
        day -= timedelta(days=(day.weekday() - schedule.handoff_day) % 7)
    if _handoff(schedule, day) > at:
        day -= timedelta(days=period)
    number = (day - _anchor(schedule)).days // period
    user = schedule.members[number % len(schedule.members)]
    return Shift(user, _handoff(schedule, day), _handoff(schedule, day + timedelta(days=period)))


def _active(overrides: Sequence[Override], at: datetime) -> Override | None:
    """The override in force at `at`: of those covering it, the one made last."""
    covering = [o for o in overrides if o.starts_at <= at < o.ends_at]
    return max(covering, key=lambda o: o.id) if covering else None


def shift_at(schedule: Schedule, at: datetime, overrides: Sequence[Override] = ()) -> Shift:
    """Who is on call at `at`, from when, and until the next change (a handoff, or an override starting or ending)."""
    rotation = rotation_shift(schedule, at)
    active = _active(overrides, at)
    changes = [rotation.ends_at] + [o.starts_at for o in overrides if at < o.starts_at < rotation.ends_at]
    if active is not None:
        changes.append(active.ends_at)
        return Shift(active.user_id, active.starts_at, min(changes), override=True)
    return Shift(rotation.user_id, rotation.starts_at, min(changes))


def now_and_next(schedule: Schedule, at: datetime, overrides: Sequence[Override] = ()) -> tuple[Shift, Shift]:
    """The shift in force at `at` and the one that follows it."""
    current = shift_at(schedule, at, overrides)
    following = shift_at(schedule, current.ends_at, overrides)
    return current, following
