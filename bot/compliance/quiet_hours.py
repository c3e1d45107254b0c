"""Marketing quiet hours, in the recipient's local time.

The TCPA (47 CFR 64.1200(c)(1)) forbids telephone solicitations before 8 a.m. or after
9 p.m. at the called party's location; Florida (Fla. Stat. 501.059) and Oklahoma
(15 O.S. 775C.4) narrow that to 8 a.m.-8 p.m.  A :class:`QuietHoursPolicy` holds the
allowed window ``[start, end)`` by default and per ISO 3166-2 region.

Where is the recipient?  Only the phone number is known, so:

* **Time zones** come from ``phonenumbers.timezone``: the zones of the number's prefix
  (for a US number, its area code).  Some area codes span zones (605 South Dakota:
  Mountain and Central; 709 Newfoundland and Labrador: Atlantic and Newfoundland), and
  toll-free or non-geographic numbers get every zone of their calling code.  A time is
  allowed only if it is inside the window in **every** zone (the intersection).
* **Region** comes from the ``phonenumbers`` geocoder's English description of the
  number ("Florida", "Miami, FL", "Ontario"), mapped to ISO 3166-2 for the United States
  and Canada.  This is where the number was issued, not where the person is now.

All functions are pure: the instant to judge is an argument (a timezone-aware
``datetime``), the wall clock is never read, and results depend only on the inputs and
the installed tz / phonenumbers data.  DST is handled with :mod:`zoneinfo`: a window
start that does not exist on a spring-forward day (02:30) opens at the moment the clocks
jump past it, and a repeated hour on a fall-back day is judged by the wall-clock time
actually shown at each instant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as pn_timezone
from phonenumbers.tzdata import TIMEZONE_DATA

from bot.compliance import nanp_regions
from bot.phone import parse_e164
from bot.time_window import Window, check_window, parse_window

__all__ = [
    "DEFAULT_REGION_WINDOWS",
    "DEFAULT_WINDOW",
    "LOOKAHEAD",
    "QuietHoursPolicy",
    "is_allowed",
    "next_allowed",
    "parse_window",
    "region_of",
    "time_zones",
    "window_for",
]

DEFAULT_WINDOW: Window = (time(8, 0), time(21, 0))
DEFAULT_REGION_WINDOWS: Mapping[str, Window] = MappingProxyType(
    {
        "US-FL": (time(8, 0), time(20, 0)),
        "US-OK": (time(8, 0), time(20, 0)),
    }
)
LOOKAHEAD = timedelta(days=7)  # next_allowed gives up (returns None) beyond this

_UNKNOWN_ZONE = "Etc/Unknown"
_REGION_KEY = re.compile(r"[A-Z]{2}(?:-[A-Z0-9]{1,3})?")


# --- policy -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuietHoursPolicy:
    """When marketing messages may be sent, as local wall-clock windows ``[start, end)``.

    ``by_region`` keys are ISO 3166-2 subdivisions ("US-FL") or ISO 3166-1 countries
    ("CA"); a subdivision entry wins over its country's, which wins over ``default``.
    """

    default: Window = DEFAULT_WINDOW
    by_region: Mapping[str, Window] = field(default_factory=lambda: DEFAULT_REGION_WINDOWS)

    def __post_init__(self) -> None:
        object.__setattr__(self, "default", check_window(self.default, "default quiet hours"))
        table: dict[str, Window] = {}
        for key, window in dict(self.by_region).items():
            region = str(key).strip().upper()
            if not _REGION_KEY.fullmatch(region):
                raise ValueError(f"quiet hours region {key!r} is not an ISO 3166 code like 'US-FL'")
            table[region] = check_window(window, f"quiet hours for {region}")
        object.__setattr__(self, "by_region", MappingProxyType(table))

    def __hash__(self) -> int:
        return hash((self.default, frozenset(self.by_region.items())))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuietHoursPolicy):
            return NotImplemented
        return self.default == other.default and dict(self.by_region) == dict(other.by_region)

    @classmethod
    def from_config(
        cls, quiet_hours: str | None = None, overrides: Mapping[str, str] | None = None
    ) -> QuietHoursPolicy:
        """Build a policy from settings text.

        `quiet_hours` is the default allowed window (``"08:00-21:00"``; ``None`` or empty
        keeps the TCPA default).  `overrides` maps regions to windows and is merged over
        the built-in Florida/Oklahoma table, so configuration can tighten or change a
        region but never silently forgets the built-in ones.  Raises ``ValueError`` naming
        the bad value.
        """
        default = parse_window(quiet_hours) if quiet_hours and quiet_hours.strip() else DEFAULT_WINDOW
        table = dict(DEFAULT_REGION_WINDOWS)
        for key, text in (overrides or {}).items():
            region = str(key).strip().upper()
            if not _REGION_KEY.fullmatch(region):
                raise ValueError(f"quiet hours region {key!r} is not an ISO 3166 code like 'US-FL'")
            try:
                table[region] = parse_window(text)
            except ValueError as exc:
                raise ValueError(f"quiet hours for {region}: {exc}") from None
        return cls(default=default, by_region=table)


# --- where is the number ------------------------------------------------------------------


def _parse(number_e164: str) -> phonenumbers.PhoneNumber:
    """Validate with :func:`bot.phone.parse_e164` (raises InvalidPhoneNumber) and parse."""
    return phonenumbers.parse(parse_e164(number_e164))


@lru_cache(maxsize=256)
def _calling_code_zones(country_code: int) -> tuple[str, ...]:
    prefix = str(country_code)
    zones = {
        zone
        for key, names in TIMEZONE_DATA.items()
        if key.startswith(prefix)
        for zone in names
        if zone != _UNKNOWN_ZONE
    }
    return tuple(sorted(zones))


@lru_cache(maxsize=1)
def _all_zones() -> tuple[str, ...]:
    return tuple(sorted({zone for names in TIMEZONE_DATA.values() for zone in names if zone != _UNKNOWN_ZONE}))


def _usable(zones) -> list[str]:
    return [z for z in zones if z != _UNKNOWN_ZONE]


def time_zones(number_e164: str) -> list[str]:
    """IANA time zones the number may be in; never empty.

    1. ``time_zones_for_number`` (the prefix's zones, or the calling code's zones for
       mobile/toll-free numbers where phonenumbers treats them as non-geographic);
    2. if unknown, ``time_zones_for_geographical_number`` (longest-prefix lookup);
    3. if still unknown, every zone listed under the calling code;
    4. for calling codes tied to no place (+800, +808, +870, +881-883, +888, +979),
       every zone phonenumbers knows: quiet hours can then never be satisfied, so marketing
       to such numbers is deferred rather than sent blind.

    Raises :class:`bot.phone.InvalidPhoneNumber` for text that is not a valid number.
    """
    number = _parse(number_e164)
    for candidates in (
        pn_timezone.time_zones_for_number(number),
        pn_timezone.time_zones_for_geographical_number(number),
        _calling_code_zones(number.country_code),
    ):
        zones = _usable(candidates)
        if zones:
            return sorted(dict.fromkeys(zones))
    return list(_all_zones())


def region_of(number_e164: str) -> str | None:
    """ISO 3166-2 subdivision of a US or Canadian number (``"US-FL"``), else ``None``: see
    :mod:`bot.compliance.nanp_regions`."""
    return nanp_regions.subdivision(_parse(number_e164))


def window_for(number_e164: str, policy: QuietHoursPolicy | None = None) -> Window:
    """The allowed local window for a number: its region's, else its country's, else the default."""
    policy = policy or QuietHoursPolicy()
    region = region_of(number_e164)
    if region and region in policy.by_region:
        return policy.by_region[region]
    country = phonenumbers.region_code_for_number(_parse(number_e164))
    if country and country in policy.by_region:
        return policy.by_region[country]
    return policy.default


# --- when ---------------------------------------------------------------------------------


def _require_aware(at_utc: datetime) -> datetime:
    if not isinstance(at_utc, datetime) or at_utc.tzinfo is None or at_utc.utcoffset() is None:
        raise ValueError(f"{at_utc!r} must be a timezone-aware datetime (UTC)")
    return at_utc.astimezone(UTC)


def _inside(instant: datetime, zone: ZoneInfo, window: Window) -> bool:
    local = instant.astimezone(zone).time().replace(tzinfo=None)
    return window[0] <= local < window[1]


def _allowed_in_all(instant: datetime, zones: list[ZoneInfo], window: Window) -> bool:
    return all(_inside(instant, zone, window) for zone in zones)


def is_allowed(number_e164: str, at_utc: datetime, policy: QuietHoursPolicy | None = None) -> bool:
    """True when `at_utc` is inside the number's window in every one of its time zones."""
    instant = _require_aware(at_utc)
    window = window_for(number_e164, policy)
    zones = [ZoneInfo(name) for name in time_zones(number_e164)]
    return _allowed_in_all(instant, zones, window)


def _transitions(zone: ZoneInfo, begin: datetime, end: datetime) -> list[datetime]:
    """UTC instants in [begin, end] at which `zone`'s UTC offset changes (to the second)."""
    found: list[datetime] = []
    step = timedelta(hours=6)  # no zone has had two offset changes within 6 hours
    left = begin
    while left < end:
        right = min(left + step, end)
        if left.astimezone(zone).utcoffset() != right.astimezone(zone).utcoffset():
            lo, hi = left, right  # offset(lo) != offset(hi); find the first second of hi's offset
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if mid <= lo:
                    mid = lo + timedelta(seconds=1)
                if mid.astimezone(zone).utcoffset() == lo.astimezone(zone).utcoffset():
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
        left = right
    return found


def _local_starts(zone: ZoneInfo, start: time, first: date, last: date) -> list[datetime]:
    """UTC instants whose wall-clock time in `zone` is exactly `start`, for local dates first..last.

    An ambiguous time (fall-back hour) yields both instants; a nonexistent one (spring-forward
    gap) yields none here — the transition instant stands in for it (see _transitions).
    """
    out: list[datetime] = []
    day = first
    while day <= last:
        naive = datetime.combine(day, start)
        for fold in (0, 1):
            candidate = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
            if candidate.astimezone(zone).replace(tzinfo=None) == naive:  # really shows `start`
                out.append(candidate)
        day += timedelta(days=1)
    return out


def next_allowed(number_e164: str, at_utc: datetime, policy: QuietHoursPolicy | None = None) -> datetime | None:
    """The earliest instant >= `at_utc` at which sending is allowed, as an aware UTC datetime.

    Returns `at_utc` (in UTC) when it is already allowed.  Otherwise the answer is the
    first later instant at which the window holds in every zone of the number, or
    ``None`` when there is none within 7 days (for instance when the zones' windows never
    overlap); the caller must then defer or skip the recipient with a reason.

    How: the allowed times of one zone start either when the local clock shows the window
    start, or at a DST transition (a clock jumping over the start, or back into the
    window).  The intersection over zones therefore begins at one of those instants, so
    they are the only candidates to test, in order.
    """
    instant = _require_aware(at_utc)
    window = window_for(number_e164, policy)
    zones = [ZoneInfo(name) for name in time_zones(number_e164)]
    if _allowed_in_all(instant, zones, window):
        return instant
    horizon = instant + LOOKAHEAD
    candidates: set[datetime] = set()
    for zone in zones:
        first = (instant - timedelta(days=1)).astimezone(zone).date()
        last = (horizon + timedelta(days=1)).astimezone(zone).date()
        candidates.update(_local_starts(zone, window[0], first, last))
        candidates.update(_transitions(zone, instant - timedelta(days=1), horizon + timedelta(days=1)))
    for candidate in sorted(c for c in candidates if instant < c <= horizon):
        if _allowed_in_all(candidate, zones, window):
            return candidate
    return None
