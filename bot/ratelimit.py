"""Rates that hold across every replica: evenly spaced send slots reserved in the database.

Each limited resource (a line's carrier rate, a Slack channel's post rate) has one row holding the next
free slot. A process reserves a few slots at once with one atomic upsert (generic cell rate
algorithm: `next = max(next, now) + n * interval`) and uses each slot at its time. Slots are reserved only for callers already waiting, so each is
used as soon as its time comes, and no window holds more sends than the rate allows, whichever replica
sends.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from sqlalchemy import func

from bot.clock import Clock
from storage.db import Database, dialect_insert
from storage.models import RateSlot

# Stay a little under the configured rate, so network jitter cannot push one send into the next
# second's window at the carrier.
HEADROOM = 0.98
# A slot used up to this late still keeps every one-second window within the rate, given HEADROOM.
LATE_TOLERANCE = 0.02


def interval_for(rate: float) -> float:
    """Seconds between two sends at `rate` per second, with headroom."""
    return 1.0 / (rate * HEADROOM)


async def reserve(db: Database, key: str, interval: float, count: int, now: datetime) -> datetime:
    """Reserve `count` consecutive slots for `key`; return the time of the first one.

    One upsert that moves the key's next free slot to `max(next, now) + count * interval` and returns it:
    atomic on either database, and a single round trip on PostgreSQL."""
    span = interval * count
    at = now.timestamp()
    later = func.greatest if db.engine.dialect.name == "postgresql" else func.max
    statement = (dialect_insert(db.engine)(RateSlot).values(key=key, next_at=at + span)
                 .on_conflict_do_update(index_elements=["key"], set_={"next_at": later(RateSlot.next_at, at) + span})
                 .returning(RateSlot.next_at))
    async with db.autocommit() as conn:
        end = (await conn.execute(statement)).scalar_one()
    return datetime.fromtimestamp(end - span, timezone.utc)


class SharedRate:
    """Hands out send slots for one key at `rate` per second.

    Callers that ask while a reservation is under way wait together, and the next reservation takes
    exactly as many slots as there are waiters: no slot is reserved for nobody, so none expires unused
    and the shared schedule never runs ahead of the senders.
    """

    def __init__(self, db: Database, clock: Clock, key: str, rate: float,
                 late_tolerance: float | None = LATE_TOLERANCE) -> None:
        self.db, self.clock, self.key = db, clock, key
        self.interval = interval_for(rate)
        # None: a late slot is used anyway (right where the other side tolerates a short burst, as Slack
        # does, and where a retaken slot would cost a whole long interval).
        self.late_tolerance = late_tolerance
        self._waiting: list[asyncio.Future] = []
        self._reserver: asyncio.Task | None = None

    async def acquire(self) -> None:
        """Wait for this caller's slot. A slot missed by more than the late tolerance (an overloaded event
        loop woke us late) is given up and a new one taken, so late sends never bunch into one window."""
        while True:
            slot: asyncio.Future = asyncio.get_running_loop().create_future()
            self._waiting.append(slot)
            if self._reserver is None or self._reserver.done():
                self._reserver = asyncio.create_task(self._reserve_for_waiters())
            when = await slot
            wait = (when - self.clock.now()).total_seconds()
            if wait > 0:
                await asyncio.sleep(wait)
            if self.late_tolerance is None or (self.clock.now() - when).total_seconds() <= self.late_tolerance:
                return

    async def _reserve_for_waiters(self) -> None:
        step = timedelta(seconds=self.interval)
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                start = await reserve(self.db, self.key, self.interval, len(batch), self.clock.now())
            except Exception as exc:  # noqa: BLE001 - each waiter gets the failure (e.g. the database is away)
                for future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for index, future in enumerate(batch):
                if not future.done():
                    future.set_result(start + step * index)
