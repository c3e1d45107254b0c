"""Rates that hold across every replica: evenly spaced send slots reserved in the database.

Each limited resource (a line's carrier rate, a Slack channel's post rate) has one row holding the next
free slot. A process reserves a few slots at once with a short locked update (generic cell rate
algorithm: `next = max(next, now) + n * interval`) and uses each slot at its time; a slot whose time
has passed by more than one interval is dropped rather than used late, so no window ever holds more
sends than the rate allows, whichever replica sends.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.clock import Clock
from storage.db import Database
from storage.models import RateSlot

# Stay a little under the configured rate, so network jitter cannot push one send into the next
# second's window at the carrier.
HEADROOM = 0.98


def interval_for(rate: float) -> float:
    """Seconds between two sends at `rate` per second, with headroom."""
    return 1.0 / (rate * HEADROOM)


async def reserve(db: Database, key: str, interval: float, count: int, now: datetime) -> datetime:
    """Reserve `count` consecutive slots for `key`; return the time of the first one."""
    step = timedelta(seconds=interval)
    for _ in range(3):
        try:
            async with db.session() as session:
                row = await session.scalar(select(RateSlot).where(RateSlot.key == key).with_for_update())
                if row is None:
                    row = RateSlot(key=key, next_at=now)
                    session.add(row)
                start = max(row.next_at, now)
                row.next_at = start + step * count
                return start
        except IntegrityError:
            continue  # another replica created the row first; read it again
    raise RuntimeError(f"cannot reserve a rate slot for {key}")


class SharedRate:
    """Hands out send slots for one key at `rate` per second, reserving a small batch at a time."""

    def __init__(self, db: Database, clock: Clock, key: str, rate: float) -> None:
        self.db, self.clock, self.key = db, clock, key
        self.interval = interval_for(rate)
        self.batch = max(1, min(200, int(rate * HEADROOM / 4)))  # about a quarter second of slots
        self._slots: deque[datetime] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait for this caller's slot."""
        async with self._lock:
            slot = await self._next_slot()
        wait = (slot - self.clock.now()).total_seconds()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _next_slot(self) -> datetime:
        late = timedelta(seconds=self.interval)
        while True:
            now = self.clock.now()
            while self._slots and self._slots[0] + late < now:
                self._slots.popleft()  # missed: using it now could crowd a later slot
            if self._slots:
                return self._slots.popleft()
            start = await reserve(self.db, self.key, self.interval, self.batch, now)
            step = timedelta(seconds=self.interval)
            self._slots.extend(start + step * i for i in range(self.batch))
