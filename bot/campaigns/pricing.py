"""What a campaign is estimated to cost: a list price per SMS segment (carriers bill per segment)."""

from __future__ import annotations

PRICE_PER_SEGMENT_USD = 0.0083


def cost(segments: int) -> str:
    """The estimated cost of `segments` segments, in dollars, as shown in previews."""
    return f"${segments * PRICE_PER_SEGMENT_USD:,.2f}"
