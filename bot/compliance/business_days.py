"""Business days for consent deadlines: Monday to Friday, less US federal holidays (with their observed days).

FCC 24-24 (47 CFR 64.1200) gives a sender at most ten business days to honour a revocation of consent. The
holidays come from the maintained `holidays` package (its United States calendar: the federal holidays and the
weekdays they are observed on).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

# Whose calendar a "business day" is counted in: the federal calendar, read in Eastern time.
CALENDAR_ZONE = ZoneInfo("America/New_York")


@lru_cache(maxsize=64)
def _federal(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("US", years=year))


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _federal(day.year)


def business_deadline(received: datetime, days: int) -> datetime:
    """The moment `days` whole business days have passed since `received` (aware): the start of the next
    business day after the `days`-th business day that follows the day of receipt, in CALENDAR_ZONE."""
    day = received.astimezone(CALENDAR_ZONE).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_business_day(day):
            counted += 1
    day += timedelta(days=1)
    while not is_business_day(day):
        day += timedelta(days=1)
    return datetime.combine(day, time(0, 0), CALENDAR_ZONE)


def auto_confirm_at(received: datetime, limit_days: int = 10) -> datetime:
    """When an undecided stop request is confirmed by itself (aware, UTC): the start of the `limit_days`-th
    business day after the day of receipt, so the opt-out is on record before `limit_days` business days have
    passed, with that whole last business day as room for an outage."""
    return business_deadline(received, limit_days - 1).astimezone(UTC)
