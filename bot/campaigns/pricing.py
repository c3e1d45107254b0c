"""What a campaign is estimated to cost: segments counted by destination country and priced with the line's
carrier's list prices (`Carrier.prices`; each carrier package keeps its own table, with its sources and dates).
A segment to a country the carrier's table has no price for is counted apart and left out of the estimate (the
preview says how many segments that is) rather than priced at another country's rate."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import phonenumbers

from bot.carriers.base import PriceList


def country_of(phone: str) -> str | None:
    """The ISO 3166-1 country of an E.164 number (None when it cannot be told)."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    # The number's own region; for a number no region claims (a reserved range), its country code's main one.
    region = phonenumbers.region_code_for_number(number)
    if not region and number.country_code is not None:
        region = phonenumbers.region_code_for_country_code(number.country_code)
    return region if region and region != "ZZ" else None


@dataclass
class Estimate:
    """Segments by destination country, and what the priced ones cost at `prices`."""

    prices: PriceList
    segments: Counter[str] = field(default_factory=Counter)

    def add(self, phone: str, segments: int) -> None:
        self.segments[country_of(phone) or "??"] += segments

    def price(self, country: str) -> float | None:
        return self.prices.per_segment_usd.get(country)

    @property
    def usd(self) -> float:
        return sum(n * (self.price(c) or 0.0) for c, n in self.segments.items())

    @property
    def unpriced(self) -> dict[str, int]:
        """Segments to countries with no price on record, by country."""
        return {c: n for c, n in sorted(self.segments.items()) if self.price(c) is None}

    def as_dict(self) -> dict:
        return {
            "cost": money(self.usd),
            "segments_by_country": dict(sorted(self.segments.items())),
            "unpriced_segments": self.unpriced,
            "prices": {c: p for c in sorted(self.segments) if (p := self.price(c)) is not None},
            "prices_as_of": self.prices.as_of,
        }


def money(usd: float) -> str:
    return f"${usd:,.2f}"
