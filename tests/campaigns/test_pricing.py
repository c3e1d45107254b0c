"""Cost estimates price each segment by the destination country (issue 16, finding 7)."""

from __future__ import annotations

from bot.campaigns import pricing
from bot.campaigns.views import _prices
from bot.carriers.telnyx.prices import PRICES as TELNYX_PRICES
from bot.carriers.twilio import prices as twilio_prices


def test_countries_come_from_the_number():
    assert pricing.country_of("+14155550100") == "US"
    assert pricing.country_of("+14165550100") == "CA"  # Toronto: +1, another country
    assert pricing.country_of("+447700900123") == "GB"
    assert pricing.country_of("+61491570156") == "AU"
    assert pricing.country_of("not a number") is None


def test_uk_and_australian_numbers_are_not_priced_at_the_us_rate():
    estimate = pricing.Estimate(twilio_prices.PRICES)
    estimate.add("+14155550100", 2)
    estimate.add("+447700900123", 3)
    estimate.add("+61491570156", 1)
    assert estimate.segments == {"US": 2, "GB": 3, "AU": 1}
    assert estimate.usd == 2 * twilio_prices.PRICES.per_segment_usd["US"]
    assert estimate.unpriced == {"AU": 1, "GB": 3}
    shown = _prices(estimate.as_dict())
    assert "US $0.0083/segment" in shown and "3 segments to GB" in shown and "1 segment to AU" in shown


def test_every_price_in_a_carrier_s_table_is_a_country_and_the_table_says_its_date():
    table = twilio_prices.PRICES
    assert table.as_of and all(len(c) == 2 and c.isupper() for c in table.per_segment_usd)
    assert "Sources:" in (twilio_prices.__doc__ or "")


def test_a_carrier_with_no_published_price_estimates_nothing_rather_than_guessing():
    estimate = pricing.Estimate(TELNYX_PRICES)
    estimate.add("+14155550100", 4)
    assert estimate.usd == 0 and estimate.unpriced == {"US": 4}
    assert "not estimated" in _prices(estimate.as_dict())
