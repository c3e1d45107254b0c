"""Telnyx's list price of one outbound SMS segment by destination country, for the preview's estimate.

Telnyx publishes its messaging rates on its pricing pages per account and destination; no figure for them could
be confirmed from a source with a date when this table was written, so the table is empty: a campaign on a Telnyx
line shows its segments by country as "not estimated" rather than a guessed cost. Add the rates of your
account here (country -> US dollars per segment), with their source and date.
"""

from bot.carriers.base import PriceList

PRICES = PriceList(per_segment_usd={}, as_of="")
