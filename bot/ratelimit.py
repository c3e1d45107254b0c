"""Rates that hold across every replica: evenly spaced send slots, the timeline leased from the database.

Each limited resource (a line's carrier rate, a Slack channel's post rate) has one row holding the next
free moment of its timeline. A process leases a span of that timeline with one atomic upsert (generic cell
rate algorithm: `next = max(next, now) + span`): nobody else sends in it. The process hands out the span's
slots at the moment each caller asks, one interval apart, the next free one or now, whichever is later; a
caller that asks late takes a later slot of the same span rather than a round trip, and the part of a span
nobody used in time is lost, which lowers the rate a little and can never raise it. The next span is
leased before this one runs out, so a busy sender never waits on the database.

A SQLite database has no replicas (one process serves it), so there the next free slot is kept in the
process, same algorithm, no lease.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque

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
# A lease is at least MIN_SPAN long (and at least one slot, and twice what leases lately took to come
# back), so a fast sender pays a round trip per few milliseconds rather than per send; at most MAX_SPAN (or
# one slot), so a process never holds much of a line's timeline that another replica could use.
MIN_SPAN = 0.02
MAX_SPAN = 0.25
# Bounds of the lead a lease takes over "now" (see SharedRate._lead), and how fast it relaxes.
MAX_LEAD = 0.25
LEAD_DECAY = 0.9
LATE_WARNING_EVERY = 50
SLOT_SLACK = 1e-6  # seconds: a few float roundings at epoch magnitude, far below any rate's interval


def interval_for(rate: float) -> float:
    """Seconds between two sends at `rate` per second, with headroom."""
    return 1.0 / (rate * HEADROOM)


# Move the key's next free slot to max(next, now) + span and return it: one atomic statement on either
# database. Plain SQL, because SQLAlchemy does not cache the compiled form of an upsert with a SET clause.
_RESERVE = text("""
INSERT INTO rate_slots (key, next_at) VALUES (:key, CAST(:at AS DOUBLE PRECISION) + :span)
ON CONFLICT (key) DO UPDATE SET next_at = GREATEST(rate_slots.next_at, CAST(:at AS DOUBLE PRECISION)) + :span
RETURNING next_at
""")


async def reserve(db: Database, key: str, span: float, at: float) -> float:
    """Lease `span` seconds of `key`'s timeline, starting at `at` (epoch seconds) or later; return the start
    (a single round trip on PostgreSQL).

    On SQLite the timeline is kept in the process (`Database.local_slots`): a SQLite database is served by
    one process (see `Database.hold_single_server`), so there is nobody to share it with, and a lease need
    not wait its turn behind every other write transaction."""
    if db.is_sqlite:
        return reserve_in_process(db, key, span, at)
    async with db.autocommit() as conn:
        end = (await conn.execute(_RESERVE, {"key": key, "at": at, "span": span})).scalar_one()
    return end - span


def reserve_in_process(db: Database, key: str, span: float, at: float) -> float:
    """`reserve` for a database one process serves, without a coroutine: the next free moment is kept in
    `db.local_slots`."""
    start = max(db.local_slots.get(key, 0.0), at)
    db.local_slots[key] = start + span
    return start


class SharedRate:
    """Hands out send slots for one key at `rate` per second (see the module's docstring)."""

    def __init__(
        self, db: Database, clock: Clock, key: str, rate: float, late_tolerance: float | None = LATE_TOLERANCE
    ) -> None:
        self.db, self.clock, self.key = db, clock, key
        self.interval = interval_for(rate)
        # None: a late slot is used anyway (right where the other side tolerates a short burst, as Slack
        # does, and where a retaken slot would cost a whole long interval).
        self.late_tolerance = late_tolerance
        # A lease's length in slots: at least MIN_SPAN (or the callers waiting), at most MAX_SPAN, one at least.
        self._max_slots = max(1, math.floor(MAX_SPAN / self.interval))
        self._min_slots = min(self._max_slots, math.ceil(MIN_SPAN / self.interval))
        self._spans: deque[tuple[float, float]] = deque()  # leased [start, end) of the timeline, in order
        self._next = 0.0  # no slot of ours starts before this (epoch seconds)
        self._given = 0  # slots handed out of the first span
        self._leasing: asyncio.Future | None = None
        self._wanting = 0  # callers waiting for a lease: the next one is long enough for them all
        # How far ahead of "now" a lease starts: about what the last ones took to reach us. Without it, an
        # idle key's span would start when it was asked for, already partly gone when the database is slow.
        self._lead = 0.0
        self._late_in_a_row = 0

    async def acquire(self) -> float:
        """Wait for this caller's slot and return its time (epoch seconds). A slot missed by more than the
        late tolerance (an overloaded event loop woke us late) is given up and another taken, so late sends
        never bunch into one window. A caller that waits for something else after this (a free connection)
        checks again with `still_in_time` right before it sends."""
        while True:
            now = self.clock.timestamp()
            if self.db.is_sqlite:
                when = reserve_in_process(self.db, self.key, self.interval, now)
            else:
                taken = self._take(now)
                if taken is None:
                    self._wanting += 1
                    try:
                        await asyncio.shield(self._lease())
                    finally:
                        self._wanting -= 1
                    continue
                when = taken
            if when <= now:  # free already: in time by definition
                self._late_in_a_row = 0
                return when
            await asyncio.sleep(when - now)
            if self.still_in_time(when):
                return when

    def take_due(self) -> float | None:
        """A slot due now, taken without waiting; None when the next one is later, or not leased yet. For a
        caller whose slot went by while it waited for something else (a free connection, `still_in_time`): it
        takes a slot it may use at once, or gives back what it holds and waits with `acquire`."""
        now = self.clock.timestamp()
        if self.db.is_sqlite:
            due = self.db.local_slots.get(self.key, 0.0) <= now
            taken = reserve_in_process(self.db, self.key, self.interval, now) if due else None
        else:
            taken = self._take(now, latest=now)
        if taken is not None:
            self._late_in_a_row = 0  # the slot missed cost nothing
        return taken

    def warm(self) -> None:
        """A send is coming: lease a span now, unless one is held, so that the send finds its slot leased
        rather than waiting for the round trip."""
        if self.db.is_sqlite:
            return
        if not self._spans or self._spans[-1][1] <= self.clock.timestamp() + self.interval:
            self._lease(ahead=True)

    async def close(self) -> None:
        """Wait for a lease under way (one taken ahead may be), so the database can be closed after it."""
        if self._leasing is not None and not self._leasing.done():
            await asyncio.wait([self._leasing])

    def _in_time(self, when: float, now: float) -> bool:
        """Whether a slot at `when` may be used at `now` (late by no more than the tolerance)."""
        return self.late_tolerance is None or now - when <= self.late_tolerance

    def still_in_time(self, when: float) -> bool:
        """Whether the slot at `when` may still be used; if not, it is given up (and counted as missed)."""
        if self._in_time(when, self.clock.timestamp()):
            self._late_in_a_row = 0
            return True
        self._late_in_a_row += 1
        if self._late_in_a_row % LATE_WARNING_EVERY == 0:
            late = self.clock.timestamp() - when
            log.warning(
                "rate %s: %d slots in a row came %.0f ms late (event loop busy; leases start %.0f ms ahead)",
                self.key,
                self._late_in_a_row,
                late * 1000,
                self._lead * 1000,
            )
        return False

    def _take(self, now: float, latest: float | None = None) -> float | None:
        """The next slot of the leased spans, not before `now`; None when they are used up, or when it would be
        later than `latest` (it is then left for whoever asks next). Leases the next span early when this one
        will run out within about a lease's round trip."""
        while self._spans:
            start, end = self._spans[0]
            when = max(self._next, start, now)
            # A slot is a whole interval (the next one, wherever, starts after it); the slack absorbs float
            # rounding on epoch seconds, which could otherwise make the last slot of a span not fit.
            if when + self.interval > end + SLOT_SLACK:
                # No whole slot is left from now on, but the span's next slot began a moment ago: it is used
                # late, as a slot that woke its caller late is (`still_in_time`), rather than lost with the
                # span. (A span leased ahead for a send on its way, see `warm`, is often one slot long.)
                earliest = max(self._next, start)
                if self._in_time(earliest, now) and earliest + self.interval <= end + SLOT_SLACK:
                    when = earliest
            if when + self.interval <= end + SLOT_SLACK:
                if latest is not None and when > latest:
                    return None
                self._next = when + self.interval
                self._given += 1
                # Sends keep coming (a second slot of a span that holds several): lease on before it runs out.
                if self._given > 1 and len(self._spans) == 1 and end - now <= 2 * self._lead + self.interval:
                    self._lease()
                return when
            self._spans.popleft()
            self._given = 0
        return None

    def _lease(self, *, ahead: bool = False) -> asyncio.Future:
        """The lease under way, or a new one; `ahead`: asked for before anyone waits for it."""
        if self._leasing is None or self._leasing.done():
            self._leasing = asyncio.ensure_future(self._lease_span(ahead))
            # A lease taken ahead that fails is retried by the next caller: its error must not go unheard.
            self._leasing.add_done_callback(lambda done: done.cancelled() or done.exception())
        return self._leasing

    async def _lease_span(self, ahead: bool = False) -> None:
        # Twice the lead at least: the next lease, asked for with a lead's worth left, comes back in time.
        slots = max(self._wanting, self._min_slots, math.ceil(2 * self._lead / self.interval))
        span = min(slots, self._max_slots) * self.interval
        asked = self.clock.timestamp()
        # A lease asked for ahead of its send starts now: by the time the send asks, the round trip is over,
        # and its slot, begun a moment before, is used late within the tolerance (see `_take`).
        at = max(asked if ahead else asked + self._lead, self._spans[-1][1] if self._spans else 0.0)
        start = await reserve(self.db, self.key, span, at)
        # Only the round trip is worth leading by: a slot late because the event loop was busy when it fell
        # due would be as late wherever it started.
        took = self.clock.timestamp() - asked
        self._lead = min(MAX_LEAD, max(LEAD_DECAY * self._lead, 1.5 * took))
        self._spans.append((start, start + span))
