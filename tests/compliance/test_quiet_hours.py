"""Quiet hours with explicit clock values: DST, multi-zone numbers, regional overrides."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.compliance.quiet_hours import (
    QuietHoursPolicy,
    is_allowed,
    next_allowed,
    region_of,
    time_zones,
    window_for,
)
from bot.phone import InvalidPhoneNumber

UTC = UTC
NYC = "+12125551234"  # America/New_York
MIAMI = "+13055551234"  # Florida: 08:00-20:00
OKC = "+14055551234"  # Oklahoma: 08:00-20:00, America/Chicago
SF = "+14155550100"  # America/Los_Angeles
PHOENIX = "+16025551234"  # America/Phoenix, no DST
HONOLULU = "+18085551234"  # Pacific/Honolulu, no DST
SOUTH_DAKOTA = "+16055551234"  # America/Denver and America/North_Dakota/Center
NEWFOUNDLAND = "+17095551234"  # America/Halifax and America/St_Johns (30 min apart)
OTTAWA = "+16135550123"  # America/Toronto
TOLL_FREE = "+18005551234"  # every NANP zone
INTL_FREEPHONE = "+80012345678"  # tied to no place

POLICY = QuietHoursPolicy()


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- lookup -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number, zones",
    [
        (NYC, ["America/New_York"]),
        (PHOENIX, ["America/Phoenix"]),
        (HONOLULU, ["Pacific/Honolulu"]),
        (SOUTH_DAKOTA, ["America/Denver", "America/North_Dakota/Center"]),
        (NEWFOUNDLAND, ["America/Halifax", "America/St_Johns"]),
    ],
)
def test_time_zones(number, zones):
    assert time_zones(number) == zones


def test_time_zones_never_empty_and_real():
    for number in (TOLL_FREE, INTL_FREEPHONE, "+447911123456"):
        zones = time_zones(number)
        assert zones and "Etc/Unknown" not in zones
        for name in zones:
            ZoneInfo(name)
    assert {"America/New_York", "Pacific/Honolulu", "America/Toronto"} <= set(time_zones(TOLL_FREE))


def test_invalid_number_raises():
    with pytest.raises(InvalidPhoneNumber):
        time_zones("not a number")
    with pytest.raises(InvalidPhoneNumber):
        is_allowed("+1555", utc(2026, 7, 1, 15), POLICY)


@pytest.mark.parametrize(
    "number, region",
    [
        (MIAMI, "US-FL"),
        ("+18505551234", "US-FL"),
        (OKC, "US-OK"),
        (SF, "US-CA"),  # "San Francisco, CA"
        (NYC, "US-NY"),
        ("+12025551234", "US-DC"),
        (OTTAWA, "CA-ON"),
        ("+12575551234", "CA-BC"),
        (NEWFOUNDLAND, "CA-NL"),
        ("+19025551234", None),  # "Nova Scotia/Prince Edward Island": ambiguous
        (TOLL_FREE, None),
        ("+447911123456", None),
    ],
)
def test_region_of(number, region):
    assert region_of(number) == region


def test_window_for():
    assert window_for(MIAMI, POLICY) == (time(8), time(20))
    assert window_for(OKC, POLICY) == (time(8), time(20))
    assert window_for(NYC, POLICY) == (time(8), time(21))
    assert window_for(NYC) == (time(8), time(21))
    country = QuietHoursPolicy(by_region={"CA": (time(9), time(20)), "CA-ON": (time(10), time(19))})
    assert window_for(NEWFOUNDLAND, country) == (time(9), time(20))
    assert window_for(OTTAWA, country) == (time(10), time(19))


# --- configuration ------------------------------------------------------------------------


def test_from_config_defaults_and_overrides():
    assert QuietHoursPolicy.from_config() == QuietHoursPolicy()
    policy = QuietHoursPolicy.from_config("09:00-20:30", {"us-tx": "10:00-18:00", "US-FL": "09:00-19:00"})
    assert policy.default == (time(9), time(20, 30))
    assert policy.by_region["US-TX"] == (time(10), time(18))
    assert policy.by_region["US-FL"] == (time(9), time(19))
    assert policy.by_region["US-OK"] == (time(8), time(20))  # built-ins kept
    assert hash(policy) == hash(
        QuietHoursPolicy.from_config("09:00-20:30", {"US-TX": "10:00-18:00", "US-FL": "09:00-19:00"})
    )


@pytest.mark.parametrize("bad", ["8-21", "08:00", "21:00-08:00", "08:00-08:00", "25:00-26:00", "08:60-21:00", "soon"])
def test_from_config_rejects_bad_windows(bad):
    with pytest.raises(ValueError, match=repr(bad).replace("\\", "\\\\").replace("(", "\\(")):
        QuietHoursPolicy.from_config(bad)


def test_from_config_names_bad_override():
    with pytest.raises(ValueError, match="US-TX.*'9-5'"):
        QuietHoursPolicy.from_config(None, {"US-TX": "9-5"})
    with pytest.raises(ValueError, match="'Florida'"):
        QuietHoursPolicy.from_config(None, {"Florida": "08:00-20:00"})


def test_naive_datetime_rejected():
    with pytest.raises(ValueError):
        is_allowed(NYC, datetime(2026, 7, 1, 15), POLICY)
    with pytest.raises(ValueError):
        next_allowed(NYC, datetime(2026, 7, 1, 15), POLICY)


# --- is_allowed / next_allowed ------------------------------------------------------------


@pytest.mark.parametrize(
    "number, at, allowed",
    [
        # New York, summer (EDT, UTC-4): 08:00 = 12:00Z, 21:00 = 01:00Z next day
        (NYC, utc(2026, 7, 1, 11, 59, 59), False),
        (NYC, utc(2026, 7, 1, 12, 0), True),
        (NYC, utc(2026, 7, 2, 0, 59, 59), True),
        (NYC, utc(2026, 7, 2, 1, 0), False),  # 21:00 is outside [08:00, 21:00)
        # New York, winter (EST, UTC-5): 08:00 = 13:00Z
        (NYC, utc(2026, 1, 15, 12, 30), False),
        (NYC, utc(2026, 1, 15, 13, 0), True),
        # Florida stops at 20:00 local: 00:00Z in summer
        (MIAMI, utc(2026, 7, 1, 23, 59), True),
        (MIAMI, utc(2026, 7, 2, 0, 0), False),
        (MIAMI, utc(2026, 7, 2, 0, 30), False),
        (NYC, utc(2026, 7, 2, 0, 30), True),  # same instant, same zone, 21:00 rule
        # Oklahoma (Central) 20:00 CDT = 01:00Z
        (OKC, utc(2026, 7, 2, 0, 59), True),
        (OKC, utc(2026, 7, 2, 1, 0), False),
        # Phoenix: MST all year, 08:00 = 15:00Z in January and in July
        (PHOENIX, utc(2026, 1, 15, 15, 0), True),
        (PHOENIX, utc(2026, 7, 15, 15, 0), True),
        (PHOENIX, utc(2026, 7, 15, 14, 59), False),
        (PHOENIX, utc(2026, 7, 16, 3, 59), True),
        (PHOENIX, utc(2026, 7, 16, 4, 0), False),
        # Honolulu: HST all year, 08:00 = 18:00Z
        (HONOLULU, utc(2026, 3, 9, 17, 59), False),
        (HONOLULU, utc(2026, 3, 9, 18, 0), True),
        (HONOLULU, utc(2026, 11, 2, 18, 0), True),
        (HONOLULU, utc(2026, 11, 3, 7, 0), False),
    ],
)
def test_is_allowed(number, at, allowed):
    assert is_allowed(number, at, POLICY) is allowed


def test_march_2026_spring_forward_new_york():
    # DST starts Sunday 8 March 2026 at 02:00 EST (07:00Z)
    assert not is_allowed(NYC, utc(2026, 3, 7, 12, 30), POLICY)  # 07:30 EST
    assert next_allowed(NYC, utc(2026, 3, 7, 12, 30), POLICY) == utc(2026, 3, 7, 13, 0)
    assert is_allowed(NYC, utc(2026, 3, 8, 12, 30), POLICY)  # 08:30 EDT
    assert next_allowed(NYC, utc(2026, 3, 8, 4, 0), POLICY) == utc(2026, 3, 8, 12, 0)
    # Phoenix does not move: its 08:00 stays at 15:00Z
    assert next_allowed(PHOENIX, utc(2026, 3, 8, 4, 0), POLICY) == utc(2026, 3, 8, 15, 0)


def test_november_2026_fall_back_new_york():
    # DST ends Sunday 1 November 2026 at 02:00 EDT (06:00Z)
    assert is_allowed(NYC, utc(2026, 10, 31, 12, 30), POLICY)  # 08:30 EDT
    assert not is_allowed(NYC, utc(2026, 11, 1, 12, 30), POLICY)  # 07:30 EST
    assert next_allowed(NYC, utc(2026, 11, 1, 12, 30), POLICY) == utc(2026, 11, 1, 13, 0)
    assert next_allowed(NYC, utc(2026, 11, 1, 2, 0), POLICY) == utc(2026, 11, 1, 13, 0)
    # evening of 31 Oct: 21:00 EDT = 01:00Z
    assert is_allowed(NYC, utc(2026, 11, 1, 0, 59), POLICY)
    assert not is_allowed(NYC, utc(2026, 11, 1, 1, 0), POLICY)


def test_window_start_in_spring_forward_gap():
    # 02:30 does not exist in New York on 8 March 2026; the window opens when clocks jump to 03:00
    policy = QuietHoursPolicy(default=(time(2, 30), time(21)))
    assert not is_allowed(NYC, utc(2026, 3, 8, 6, 59, 59), policy)  # 01:59:59 EST
    assert next_allowed(NYC, utc(2026, 3, 8, 5, 0), policy) == utc(2026, 3, 8, 7, 0)  # 03:00 EDT
    assert next_allowed(NYC, utc(2026, 3, 7, 5, 0), policy) == utc(2026, 3, 7, 7, 30)  # normal day


def test_window_start_in_repeated_hour():
    # 01:30 happens twice on 1 November 2026: first at 05:30Z (EDT), again at 06:30Z (EST)
    policy = QuietHoursPolicy(default=(time(1, 30), time(21)))
    assert next_allowed(NYC, utc(2026, 11, 1, 5, 0), policy) == utc(2026, 11, 1, 5, 30)
    # after the clocks fall back to 01:00 the wall clock is before 01:30 again
    assert not is_allowed(NYC, utc(2026, 11, 1, 6, 10), policy)  # 01:10 EST
    assert next_allowed(NYC, utc(2026, 11, 1, 6, 10), policy) == utc(2026, 11, 1, 6, 30)


def test_window_end_in_repeated_hour_reopens_at_transition():
    # window [00:00, 01:30): closed at 01:45 EDT, open again when clocks fall back to 01:00 EST
    policy = QuietHoursPolicy(default=(time(0), time(1, 30)))
    assert not is_allowed(NYC, utc(2026, 11, 1, 5, 45), policy)
    assert next_allowed(NYC, utc(2026, 11, 1, 5, 45), policy) == utc(2026, 11, 1, 6, 0)


def test_multi_zone_number_uses_the_intersection():
    # South Dakota 605: Mountain (MDT, UTC-6) and Central (CDT, UTC-5), July 2026.
    # 08:00-21:00 in both = 08:00 MDT (14:00Z) .. 21:00 CDT (02:00Z)
    assert not is_allowed(SOUTH_DAKOTA, utc(2026, 7, 1, 13, 30), POLICY)  # 08:30 CDT, 07:30 MDT
    assert is_allowed(NYC.replace("212", "312"), utc(2026, 7, 1, 13, 30), POLICY)  # Chicago alone: fine
    assert next_allowed(SOUTH_DAKOTA, utc(2026, 7, 1, 13, 30), POLICY) == utc(2026, 7, 1, 14, 0)
    assert is_allowed(SOUTH_DAKOTA, utc(2026, 7, 2, 1, 59), POLICY)  # 20:59 CDT
    assert not is_allowed(SOUTH_DAKOTA, utc(2026, 7, 2, 2, 0), POLICY)  # 21:00 CDT, 20:00 MDT
    assert next_allowed(SOUTH_DAKOTA, utc(2026, 7, 2, 2, 0), POLICY) == utc(2026, 7, 2, 14, 0)


def test_multi_zone_half_hour_apart_newfoundland():
    # Halifax ADT (UTC-3) and St John's NDT (UTC-2:30): 08:00 ADT = 11:00Z is the later start
    assert not is_allowed(NEWFOUNDLAND, utc(2026, 7, 1, 10, 45), POLICY)  # 08:15 NDT, 07:45 ADT
    assert next_allowed(NEWFOUNDLAND, utc(2026, 7, 1, 10, 45), POLICY) == utc(2026, 7, 1, 11, 0)
    assert not is_allowed(NEWFOUNDLAND, utc(2026, 7, 1, 23, 30), POLICY)  # 21:00 NDT


def test_no_overlap_returns_none():
    # 08:00-09:00 in Mountain and in Central never overlap (08:00 MDT is 09:00 CDT)
    policy = QuietHoursPolicy(default=(time(8), time(9)))
    assert next_allowed(SOUTH_DAKOTA, utc(2026, 7, 1, 0, 0), policy) is None
    # a number tied to no place cannot be placed in any window
    assert next_allowed(INTL_FREEPHONE, utc(2026, 7, 1, 0, 0), POLICY) is None


def test_next_allowed_returns_at_itself_when_allowed():
    at = datetime(2026, 7, 1, 10, 0, tzinfo=ZoneInfo("America/New_York"))
    result = next_allowed(NYC, at, POLICY)
    assert result == at and result.tzinfo == UTC


def test_toll_free_number_needs_every_nanp_zone():
    result = next_allowed(TOLL_FREE, utc(2026, 7, 1, 3, 0), POLICY)
    assert result is not None and is_allowed(TOLL_FREE, result, POLICY)
    for name in time_zones(TOLL_FREE):
        local = result.astimezone(ZoneInfo(name)).time()
        assert time(8) <= local < time(21)


def _brute_force(number: str, at: datetime, policy: QuietHoursPolicy, days: int = 2) -> datetime | None:
    """Scan minute by minute, then second by second: slow but obviously right."""
    zones = [ZoneInfo(name) for name in time_zones(number)]
    start, end = window_for(number, policy)

    def ok(t: datetime) -> bool:
        return all(start <= t.astimezone(z).time() < end for z in zones)

    if ok(at):
        return at
    t = at.replace(second=0)
    while t <= at + timedelta(days=days):
        t += timedelta(minutes=1)
        if ok(t):
            s = max(t - timedelta(minutes=1), at)
            while not ok(s):
                s += timedelta(seconds=1)
            return s
    return None


_year = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31))
_around_dst = st.sampled_from([datetime(2026, 3, 7), datetime(2026, 10, 31)]).flatmap(
    lambda d: st.datetimes(min_value=d, max_value=d + timedelta(days=2))
)
_instants = st.one_of(_year, _around_dst).map(lambda d: d.replace(microsecond=0, tzinfo=UTC))


@settings(max_examples=30, deadline=None)
@given(
    _instants,
    st.sampled_from([NYC, MIAMI, PHOENIX, HONOLULU, SOUTH_DAKOTA, NEWFOUNDLAND]),
    st.sampled_from(
        [
            POLICY,
            QuietHoursPolicy(default=(time(2, 30), time(21))),
            QuietHoursPolicy(default=(time(1, 15), time(1, 45))),
        ]
    ),
)
def test_next_allowed_matches_brute_force(at, number, policy):
    result = next_allowed(number, at, policy)
    expected = _brute_force(number, at, policy)
    if expected is None:  # nothing in 2 days: daily windows then never overlap
        assert result is None
    else:
        assert result == expected


@settings(max_examples=30, deadline=None)
@given(_instants, st.sampled_from([NYC, OKC, SF, SOUTH_DAKOTA]))
def test_next_allowed_is_allowed_and_not_late(at, number):
    result = next_allowed(number, at, POLICY)
    assert result is not None and result >= at
    assert is_allowed(number, result, POLICY)
    assert result - at < timedelta(hours=14)
    if result > at:
        assert not is_allowed(number, result - timedelta(seconds=1), POLICY)
