"""Rates that hold across every replica: evenly spaced send slots reserved in the database.

Each limited resource (a line's carrier rate, a Slack channel's post rate) has one row holding the next
free slot. A process reserves a few slots at once with one atomic upsert (generic cell rate algorithm:
`next = max(next, now) + n * interval`) and uses each slot at its time, or not at all once it is too late,
so no window holds more sends than the rate allows, whichever replica sends. A SQLite database has no
replicas (one process serves it), so there the next free slot is kept in the process, same algorithm.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from bot.clock import Clock
from storage.db import Database

log = logging.getLogger(__name__)

# Stay a little under the configured rate: slots are spaced for HEADROOM times the rate, and what is left
# over is shared between a slot used late (up to LATE_TOLERANCE, an event loop busy when it fell due) and a
# request that reaches the carrier late (up to TRANSIT_ALLOWANCE): every one-second window at the carrier
# still holds at most the rate, because (1 + LATE_TOLERANCE + TRANSIT_ALLOWANCE) * HEADROOM <= 1.
HEADROOM = 0.98
LATE_TOLERANCE = 0.015
TRANSIT_ALLOWANCE = 1 / HEADROOM - 1 - LATE_TOLERANCE  # about 5.4 ms
# At high rates a reservation also takes the slots of the next few milliseconds, for the callers to come.
AHEAD = 0.005
MAX_AHEAD = 64
# Bounds of the lead a reservation takes over "now" (see SharedRate._lead), and how fast it relaxes.
MAX_LEAD = 0.25
LEAD_DECAY = 0.9
LATE_WARNING_EVERY = 50


def interval_for(rate: float) -> float:
    """Seconds between two sends at `rate` per second, with headroom."""
    return 1.0 / (rate * HEADROOM)


# Move the key's next free slot to max(next, now) + span and return it: one atomic statement on either
# database. Plain SQL, because SQLAlchemy does not cache the compiled form of an upsert with a SET clause.
_RESERVE_SQL = """
INSERT INTO rate_slots (key, next_at) VALUES (:key, CAST(:at AS DOUBLE PRECISION) + :span)
ON CONFLICT (key) DO UPDATE SET next_at = {later}(rate_slots.next_at, CAST(:at AS DOUBLE PRECISION)) + :span
RETURNING next_at
"""
_RESERVE = {"postgresql": text(_RESERVE_SQL.format(later="GREATEST")), "sqlite": text(_RESERVE_SQL.format(later="MAX"))}


async def reserve(db: Database, key: str, interval: float, count: int, now: datetime) -> datetime:
    """Reserve `count` consecutive slots for `key`; return the time of the first one (a single round trip
    on PostgreSQL).

    On SQLite the slots are kept in the process (`Database.local_slots`): a SQLite database is served by
    one process (see `Database.hold_single_server`), so there is nobody to share them with, and a
    reservation need not wait its turn behind every other write transaction."""
    if db.is_sqlite:
        return reserve_in_process(db, key, interval, count, now)
    span = interval * count
    async with db.autocommit() as conn:
        end = (await conn.execute(_RESERVE[db.engine.dialect.name],
                                  {"key": key, "at": now.timestamp(), "span": span})).scalar_one()
    return datetime.fromtimestamp(end - span, timezone.utc)


def reserve_in_process(db: Database, key: str, interval: float, count: int, now: datetime) -> datetime:
    """`reserve` for a database one process serves: the next free slot is kept in `db.local_slots`."""
    start = max(db.local_slots.get(key, 0.0), now.timestamp())
    db.local_slots[key] = start + interval * count
    return datetime.fromtimestamp(start, timezone.utc)


class SharedRate:
    """Hands out send slots for one key at `rate` per second.

    Callers that ask while a reservation is under way wait together, and the next reservation takes as
    many slots as there are waiters, plus, at high rates, the few that fall within the next AHEAD
    seconds: those are kept for the next callers, so a busy sender does not pay a database round trip per
    send. A kept slot that grows too late is dropped, never used: a dropped slot lowers the rate a little,
    it cannot raise it.
    """

    def __init__(self, db: Database, clock: Clock, key: str, rate: float,
                 late_tolerance: float | None = LATE_TOLERANCE) -> None:
        self.db, self.clock, self.key = db, clock, key
        self.interval = interval_for(rate)
        # None: a late slot is used anyway (right where the other side tolerates a short burst, as Slack
        # does, and where a retaken slot would cost a whole long interval).
        self.late_tolerance = late_tolerance
        # Only slots that expire can be kept: under no tolerance a kept slot could be used any time later.
        self._ahead = 0 if late_tolerance is None else min(MAX_AHEAD, int(AHEAD / self.interval))
        self._kept: deque[datetime] = deque()
        self._waiting: list[asyncio.Future] = []
        self._reserver: asyncio.Task | None = None
        # How far ahead of "now" a reservation starts: about what the last ones took to reach their callers.
        # Without it, an idle key's first slot is "now" at the request, already late on arrival when the
        # database is slow, and would be given up and retaken again and again.
        self._lead = 0.0
        self._late_in_a_row = 0

    async def acquire(self) -> datetime:
        """Wait for this caller's slot and return its time. A slot missed by more than the late tolerance (an
        overloaded event loop woke us late) is given up and a new one taken, so late sends never bunch into
        one window. A caller that waits for something else after this (a free connection) checks again
        with `still_in_time` right before it sends."""
        while True:
            when = self._kept_slot()
            if when is None and self.db.is_sqlite:
                # Kept in this process: taken at once, not in a reservation task the caller would wait on.
                when = reserve_in_process(self.db, self.key, self.interval, 1, self.clock.now())
            elif when is None:
                slot: asyncio.Future = asyncio.get_running_loop().create_future()
                self._waiting.append(slot)
                if self._reserver is None or self._reserver.done():
                    self._reserver = asyncio.create_task(self._reserve_for_waiters())
                when = await slot
            wait = (when - self.clock.now()).total_seconds()
            if wait > 0:
                await asyncio.sleep(wait)
            if self.still_in_time(when):
                return when

    def still_in_time(self, when: datetime) -> bool:
        """Whether the slot at `when` may still be used; if not, it is given up (and counted as missed)."""
        if self._in_time(when):
            self._late_in_a_row = 0
            return True
        self._missed(when)
        return False

    def _missed(self, when: datetime) -> None:
        """A slot came too late to use (given up, another is taken); say so when it keeps happening."""
        self._late_in_a_row += 1
        if self._late_in_a_row % LATE_WARNING_EVERY == 0:
            late = (self.clock.now() - when).total_seconds()
            log.warning("rate %s: %d slots in a row came %.0f ms late (database or event loop slow; reservations "
                        "start %.0f ms ahead)", self.key, self._late_in_a_row, late * 1000, self._lead * 1000)

    def _in_time(self, when: datetime) -> bool:
        return self.late_tolerance is None or (self.clock.now() - when).total_seconds() <= self.late_tolerance

    def _kept_slot(self) -> datetime | None:
        """The earliest kept slot still in time, if any (those already too late are dropped)."""
        while self._kept:
            when = self._kept.popleft()
            if self._in_time(when):
                return when
        return None

    async def _reserve_for_waiters(self) -> None:
        step = timedelta(seconds=self.interval)
        while self._waiting:
            batch, self._waiting = self._waiting, []
            asked = self.clock.now()
            try:
                start = await reserve(self.db, self.key, self.interval, len(batch) + self._ahead,
                                      asked + timedelta(seconds=self._lead))
                # Only the round trip is worth leading by: a slot late because the event loop was busy when
                # it fell due would be as late wherever it started.
                took = (self.clock.now() - asked).total_seconds()
                self._lead = min(MAX_LEAD, max(LEAD_DECAY * self._lead, 1.5 * took))
            except Exception as exc:  # noqa: BLE001 - each waiter gets the failure (e.g. the database is away)
                for future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            slots = [start + step * index for index in range(len(batch) + self._ahead)]
            for future, when in zip(batch, slots):
                if future.done():  # its caller was cancelled: the slot is kept for another
                    self._kept.append(when)
                else:
                    future.set_result(when)
            self._kept.extend(slots[len(batch):])
