"""Loops over a batch that give the event loop a turn now and then.

Rendering or classifying a few hundred texts is milliseconds of pure Python; in one stretch it holds every
timer behind it, and a send slot that falls due meanwhile is used late, or given up (bot/ratelimit.py).
The turn is given by time, not by count: each turn costs the loop a full pass behind everything else it has
queued (on a busy sender, milliseconds), so a loop whose items are cheap should not pay it every few items."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import TypeVar

T = TypeVar("T")

SLICE = 0.003  # seconds of work between two turns given to the event loop


async def paced(items: Iterable[T], slice_seconds: float = SLICE) -> AsyncIterator[T]:
    """Yield `items`, letting the event loop run pending callbacks and due timers after every
    `slice_seconds` spent in the loop."""
    clock = asyncio.get_running_loop().time
    deadline = clock() + slice_seconds
    for item in items:
        if clock() >= deadline:
            await asyncio.sleep(0)
            deadline = clock() + slice_seconds
        yield item
