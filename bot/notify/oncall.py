"""On-call schedules: who is on call for `schedule:NAME` now (rotation and overrides), and overrides by hand.

Overrides are rows (`/sms oncall override SCHEDULE @user UNTIL`); the rotation itself is the config file's.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.notify.rotation import Shift, now_and_next, shift_at
from bot.paging_config import Schedule
from bot.services import Services
from storage.models.notify import OncallOverride

_DURATION = re.compile(r"^(\d{1,4})\s*(m|min|h|d)$")


class OncallError(ValueError):
    """The request cannot be carried out; the message says why."""


def schedule(services: Services, name: str) -> Schedule:
    found = services.settings.schedules.get(name)
    if found is None:
        known = ", ".join(services.settings.schedules) or "none are configured"
        raise OncallError(f"unknown schedule {name!r} (schedules: {known})")
    return found


async def overrides(session: AsyncSession, name: str, after: datetime) -> list[OncallOverride]:
    """The schedule's overrides that have not ended by `after`."""
    return list(
        (
            await session.scalars(
                select(OncallOverride)
                .where(OncallOverride.schedule == name, OncallOverride.ends_at > after)
                .order_by(OncallOverride.id)
            )
        ).all()
    )


async def on_call(services: Services, name: str, at: datetime | None = None) -> Shift:
    """Who is on call for schedule `name` at `at` (default: now)."""
    at = at or services.clock.now()
    found = schedule(services, name)
    async with services.db.session() as session:
        rows = await overrides(session, name, at)
    return shift_at(found, at, rows)


async def now_and_following(services: Services, name: str) -> tuple[Schedule, Shift, Shift]:
    now = services.clock.now()
    found = schedule(services, name)
    async with services.db.session() as session:
        rows = await overrides(session, name, now)
    current, following = now_and_next(found, now, rows)
    return found, current, following


def parse_until(text: str, sched: Schedule, now: datetime) -> datetime:
    """UNTIL: a duration (`8h`, `90m`, `2d`) or a local date-time in the schedule's zone (`2026-12-03 09:00`,
    or ISO 8601 with an offset). Refused when it is not in the future."""
    raw = text.strip()
    match = _DURATION.match(raw.lower())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        delta = {"m": timedelta(minutes=amount), "min": timedelta(minutes=amount)}.get(unit) or (
            timedelta(hours=amount) if unit == "h" else timedelta(days=amount)
        )
        until = now + delta
    else:
        try:
            parsed = datetime.fromisoformat(raw.replace(" ", "T", 1))
        except ValueError:
            raise OncallError(
                f"{raw!r} is not a time: write a duration like 8h or 2d, or a local time like 2026-12-03 09:00"
            ) from None
        until = parsed if parsed.tzinfo else parsed.replace(tzinfo=sched.zone)
    if until <= now:
        raise OncallError(f"{raw!r} is in the past; an override must end in the future")
    if until > now + timedelta(days=366):
        raise OncallError(f"{raw!r} is more than a year away; an override lasts at most a year")
    return until


async def add_override(services: Services, *, name: str, user_id: str, until: str, created_by: str) -> OncallOverride:
    found = schedule(services, name)
    now = services.clock.now()
    ends_at = parse_until(until, found, now)
    async with services.db.session() as session:
        row = OncallOverride(
            schedule=name, user_id=user_id, starts_at=now, ends_at=ends_at, created_by=created_by, created_at=now
        )
        session.add(row)
        await session.flush()
    return row
