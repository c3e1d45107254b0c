"""What a campaign is estimated to cost: a list price per SMS segment by destination country (carriers bill per
segment, and the price depends on the country of the number texted).

Sources:

* US: Twilio's SMS pricing page for the United States (outbound SMS from a long code, toll-free number or short
  code: $0.0083 per segment; the page says its prices are "current as of October 2026"), as read on 2026-11-09
  and reported in "Twilio API Pricing: What a Text Message Costs, and What Gets Added" (API Evangelist,
  2026-11-12); budgetforge.dev's "Twilio SMS Pricing in 2026" (2026-07-05) gives the same figure.
* CA: the LC Phone pricing and billing guide (a messaging product built on Twilio), which lists outbound SMS to
  the US and Canada at $0.0083 per segment; read 2026-12-02. Twilio's own Canada page was not to be had.

Carrier pass-through fees (for example on 10DLC traffic, or Canadian carriers' long-code fees) come on top and
are not included.

Only countries whose price was looked up are listed. A number of any other country is counted apart and left out
of the estimate (the preview says how many segments that is) rather than priced at another country's rate.
Change the table here if your contract differs, with its source and date.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import phonenumbers

PRICES_AS_OF = "2026-11-09"  # the US price; the CA price was read on 2026-12-02
PRICE_PER_SEGMENT_USD: dict[str, float] = {
    "US": 0.0083,
    "CA": 0.0083,
}


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


def price_per_segment(country: str | None) -> float | None:
    """The list price of one segment to a number of `country`; None when the table has none."""
    return PRICE_PER_SEGMENT_USD.get(country or "")


@dataclass
class Estimate:
    """Segments by destination country, and what the priced ones cost."""

    segments: Counter[str] = field(default_factory=Counter)

    def add(self, phone: str, segments: int) -> None:
        self.segments[country_of(phone) or "??"] += segments

    @property
    def usd(self) -> float:
        return sum(n * (price_per_segment(c) or 0.0) for c, n in self.segments.items())

    @property
    def unpriced(self) -> dict[str, int]:
        """Segments to countries with no price on record, by country."""
        return {c: n for c, n in sorted(self.segments.items()) if price_per_segment(c) is None}

    def as_dict(self) -> dict:
        return {
            "cost": money(self.usd),
            "segments_by_country": dict(sorted(self.segments.items())),
            "unpriced_segments": self.unpriced,
            "prices": {c: price_per_segment(c) for c in sorted(self.segments) if price_per_segment(c) is not None},
            "prices_as_of": PRICES_AS_OF,
        }


def money(usd: float) -> str:
    return f"${usd:,.2f}"


def cost(segments: int, country: str = "US") -> str:
    """The estimated cost of `segments` segments to numbers of `country`, in dollars."""
    return money(segments * (price_per_segment(country) or 0.0))
