"""Cost estimates price each segment by the destination country (issue 16, finding 7)."""

from __future__ import annotations

from bot.campaigns import pricing
from bot.campaigns.views import _prices


def test_countries_come_from_the_number():
    assert pricing.country_of("+14155550100") == "US"
    assert pricing.country_of("+14165550100") == "CA"  # Toronto: +1, another country
    assert pricing.country_of("+447700900123") == "GB"
    assert pricing.country_of("+61491570156") == "AU"
    assert pricing.country_of("not a number") is None


def test_uk_and_australian_numbers_are_not_priced_at_the_us_rate():
    estimate = pricing.Estimate()
    estimate.add("+14155550100", 2)
    estimate.add("+447700900123", 3)
    estimate.add("+61491570156", 1)
    assert estimate.segments == {"US": 2, "GB": 3, "AU": 1}
    assert estimate.usd == 2 * pricing.PRICE_PER_SEGMENT_USD["US"]
    assert estimate.unpriced == {"AU": 1, "GB": 3}
    shown = _prices(estimate.as_dict())
    assert "US $0.0083/segment" in shown and "3 segments to GB" in shown and "1 segment to AU" in shown


def test_every_price_in_the_table_is_a_country_and_the_table_says_its_date():
    assert pricing.PRICES_AS_OF and all(len(c) == 2 and c.isupper() for c in pricing.PRICE_PER_SEGMENT_USD)
    assert "Sources:" in (pricing.__doc__ or "")
