"""A line's business hours, like ``Mon-Fri 09:00-17:00; Sat 10:00-14:00``, in the line's time zone.

Below both the settings (which validate the configured hours) and the conversations (which apply them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from bot.time_window import Window, parse_window

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_PART = re.compile(r"^([A-Za-z]{3})(?:\s*-\s*([A-Za-z]{3}))?$")
_PART = re.compile(r"^\s*([A-Za-z][A-Za-z,\s-]*?)\s+(\d.*)$")


@dataclass(frozen=True)
class BusinessHours:
    """Opening windows per weekday (0 = Monday), read as wall-clock times in `zone`."""

    text: str
    windows: tuple[tuple[Window, ...], ...]  # seven entries, Monday first
    zone: ZoneInfo

    def open_at(self, when: datetime) -> bool:
        local = when.astimezone(self.zone)
        now = time(local.hour, local.minute, local.second)
        return any(start <= now < end for start, end in self.windows[local.weekday()])


def _days(text: str, whole: str) -> list[int]:
    days: list[int] = []
    for item in text.split(","):
        match = _DAY_PART.match(item.strip())
        if not match:
            raise ValueError(f"{whole!r}: {item.strip()!r} is not a day or a day range like Mon-Fri")
        first, last = (g.lower() if g else None for g in match.groups())
        if first not in DAYS or (last is not None and last not in DAYS):
            raise ValueError(f"{whole!r}: {item.strip()!r} names a day that is not one of Mon Tue Wed Thu Fri Sat Sun")
        start = DAYS.index(first)
        end = DAYS.index(last) if last else start
        if end < start:
            raise ValueError(f"{whole!r}: {item.strip()!r} runs backwards; write the days in week order (Mon-Sun)")
        days += range(start, end + 1)
    return days


def parse_business_hours(text: str, zone: ZoneInfo) -> BusinessHours:
    """Parse ``Mon-Fri 09:00-17:00; Sat 10:00-14:00`` (several windows of one day separated by commas);
    raise ValueError quoting `text`."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f'{text!r} is not business hours like "Mon-Fri 09:00-17:00; Sat 10:00-14:00"')
    windows: list[list[Window]] = [[] for _ in DAYS]
    for part in text.split(";"):
        if not part.strip():
            continue
        match = _PART.match(part)
        if not match:
            raise ValueError(f"{text!r}: {part.strip()!r} is not days and hours like 'Mon-Fri 09:00-17:00'")
        days = _days(match.group(1), text)
        for raw in match.group(2).split(","):
            try:
                window = parse_window(raw)
            except ValueError:
                raise ValueError(
                    f"{text!r}: {raw.strip()!r} is not a time range like 09:00-17:00 (start before end, same day)"
                ) from None
            for day in days:
                windows[day].append(window)
    return BusinessHours(text=text, windows=tuple(tuple(w) for w in windows), zone=zone)
