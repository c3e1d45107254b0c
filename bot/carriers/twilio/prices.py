"""Twilio's list price of one outbound SMS segment by destination country, for the preview's estimate (Twilio
bills per segment, and the price depends on the country of the number texted).

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

from bot.carriers.base import PriceList

PRICES = PriceList(
    per_segment_usd={"US": 0.0083, "CA": 0.0083},
    as_of="2026-11-09",  # the US price; the CA price was read on 2026-12-02
)
