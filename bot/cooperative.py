"""Loops over a batch that give the event loop a turn now and then.

Rendering or classifying a few hundred texts is milliseconds of pure Python; in one stretch it holds every
timer behind it, and a send slot that falls due meanwhile is used late, or given up (bot/ratelimit.py)."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Iterable, TypeVar

T = TypeVar("T")

EVERY = 25  # items between two turns given to the event loop


async def paced(items: Iterable[T], every: int = EVERY) -> AsyncIterator[T]:
    """Yield `items`, letting the event loop run pending callbacks and due timers every `every` items."""
    for index, item in enumerate(items):
        if index and index % every == 0:
            await asyncio.sleep(0)
        yield item
