"""Send slots shared through the database: reservations never overlap, whoever reserves them.

On SQLite, which one process serves, the slots stay in that process: the same guarantees, no round trip."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, text

from bot.clock import Clock, ManualClock
from bot.ratelimit import LATE_TOLERANCE, MAX_SPAN, SharedRate, interval_for, reserve
from storage.db import Database, DatabaseInUse
from storage.migrate import upgrade

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


async def reserve_slots(db: Database, key: str, interval: float, count: int, now: datetime) -> datetime:
    """Reserve `count` slots of `interval` for `key` from `now` on; the time of the first."""
    return datetime.fromtimestamp(await reserve(db, key, interval * count, now.timestamp()), UTC)


async def test_reservations_follow_one_another_and_never_start_in_the_past(database_url):
    db = Database(database_url)
    await upgrade(db.engine)
    try:
        first = await reserve_slots(db, "line:1", 0.01, 5, T0)
        second = await reserve_slots(db, "line:1", 0.01, 2, T0)
        other_key = await reserve_slots(db, "line:2", 0.01, 1, T0)
        much_later = await reserve_slots(db, "line:1", 0.01, 1, T0 + timedelta(minutes=1))
        assert first == T0
        assert abs((second - first).total_seconds() - 0.05) < 1e-6
        assert other_key == T0
        assert much_later == T0 + timedelta(minutes=1)  # an idle key does not bank slots
    finally:
        await db.dispose()


async def test_two_processes_reserving_at_once_get_disjoint_slots(database_url):
    """Two engines stand for two replicas. SQLite has no replicas: a second server on the file is refused."""
    databases = [Database(database_url), Database(database_url)]
    if databases[0].is_sqlite:
        databases[0].hold_single_server()
        with pytest.raises(DatabaseInUse, match="another sms-bridge process is serving the SQLite database"):
            databases[1].hold_single_server()
        await databases[0].dispose()  # the lock goes with the server
        databases[1].hold_single_server()
        await databases[1].dispose()
        return
    await upgrade(databases[0].engine)
    interval = 0.001
    try:

        async def reserve_many(db: Database, count: int) -> list[tuple[datetime, int]]:
            return [(await reserve_slots(db, "line:9", interval, n, T0), n) for n in [1, 3, 2] * count]

        results = await asyncio.gather(*(reserve_many(db, 30) for db in databases))
        ranges = sorted(r for result in results for r in result)
        assert len(ranges) == 180
        for (start, n), (next_start, _) in zip(ranges, ranges[1:], strict=False):
            assert (next_start - start).total_seconds() >= n * interval - 2e-6, "two reservations overlap"
        total = sum(n for _, n in ranges)
        end = ranges[-1][0] + timedelta(seconds=ranges[-1][1] * interval)
        assert abs((end - T0).total_seconds() - total * interval) < interval / 10, "slots were skipped or doubled"
    finally:
        for db in databases:
            await db.dispose()


async def test_shared_rate_keeps_every_second_within_the_rate(database_url):
    db = Database(database_url)
    await upgrade(db.engine)
    clock = Clock()
    rate = SharedRate(db, clock, "line:3", 50)
    try:
        times: list[datetime] = []

        async def send() -> None:
            await rate.acquire()
            times.append(clock.now())

        await asyncio.gather(*(send() for _ in range(120)))
        assert len(times) == 120
        times.sort()
        busiest = max(sum(1 for t in times[i:] if (t - start).total_seconds() < 1.0) for i, start in enumerate(times))
        assert busiest <= 50
        assert interval_for(50) > 1 / 50
    finally:
        await db.dispose()


async def test_at_high_rates_one_reservation_serves_several_sends(database_url):
    """A lease covers the next few milliseconds of the timeline: the next callers take their slots from it
    instead of a round trip each."""
    async with rate_on(database_url, "line:4", 5000) as (db, rate, statements):
        for _ in range(20):
            await rate.acquire()  # one caller at a time
        reservations = [s for s in statements if "rate_slots" in s]
        if db.is_sqlite:
            assert reservations == [], "SQLite's rates are kept in its one serving process"
        else:
            assert 1 <= len(reservations) <= 3, f"{len(reservations)} reservations for 20 sends"


async def test_a_late_caller_takes_a_later_slot_of_the_lease_not_a_round_trip(database_url):
    """Slots are handed out when callers ask: one that comes late (the event loop was busy) takes the next
    free moment of the leased span, still an interval after the one before, without waiting for a reservation.
    (Whether the next span is leased ahead meanwhile depends on how long reservations take on this machine:
    that lease runs beside the callers and is not what this test is about.)"""
    async with rate_on(database_url, "line:6", 1000) as (_db, rate, statements):
        first = await rate.acquire()
        statements.clear()
        await asyncio.sleep(0.005)  # late: five slots of the span went by unused
        second = await rate.acquire()
        awaited = [
            s for s in statements if "INSERT INTO rate_slots" in s
        ]  # a caller's own lease runs before it returns
        third = await rate.acquire()
        assert second >= first + 0.004, "a slot that went by unused was handed out late"
        assert third - second >= rate.interval - 1e-9, "two slots closer than the interval"
        assert second <= rate.clock.timestamp(), "a caller waited although its slot was free"
        assert awaited == [], "the late caller waited for a reservation instead of taking a slot of the lease"


async def test_a_slow_database_does_not_make_every_slot_late(database_url):
    """An idle key's slot used to start when it was asked for; with reservations taking longer than the late
    tolerance (the database busy), every slot arrived late, was given up and retaken. Slots now start as far
    ahead as reservations lately took."""
    async with rate_on(database_url, "line:5", 100) as (db, rate, statements):
        await rate.acquire()  # creates the row
        for _ in range(3):
            await asyncio.sleep(0.05)  # idle: the key's next free slot is in the past
            statements.clear()
            async with hold_rate_row(db, "line:5", seconds=0.08):
                slot = await rate.acquire()
                late = rate.clock.timestamp() - slot
            reservations = [s for s in statements if "INSERT INTO rate_slots" in s]
            last = len(reservations)
        assert last <= (0 if db.is_sqlite else 1), f"the last slot took {last} reservations: slots still arrive late"
        assert late <= LATE_TOLERANCE, f"the last slot was used {late * 1000:.0f} ms late"


@asynccontextmanager
async def rate_on(database_url: str, key: str, per_second: float):
    """A migrated database, a SharedRate on it and the list of statements it sends; closed after."""
    db = Database(database_url)
    await upgrade(db.engine)
    statements = record_statements(db)
    rate = SharedRate(db, Clock(), key, per_second)
    try:
        yield db, rate, statements
    finally:
        await rate.close()
        await db.dispose()


@asynccontextmanager
async def hold_rate_row(db: Database, key: str, seconds: float):
    """Keep `key`'s slot row locked for `seconds` while the block runs, as a busy database would."""
    locked = asyncio.Event()

    async def holder() -> None:
        locking = (
            "SELECT next_at FROM rate_slots WHERE key = :key FOR UPDATE"
            if db.engine.dialect.name == "postgresql"
            else "UPDATE rate_slots SET next_at = next_at WHERE key = :key"
        )
        async with db.session() as session:
            await session.execute(text(locking), {"key": key})
            locked.set()
            await asyncio.sleep(seconds)

    task = asyncio.create_task(holder())
    await locked.wait()
    try:
        yield
    finally:
        await task


def record_statements(db: Database) -> list[str]:
    """Every SQL statement `db` sends from now on, appended to the returned list."""
    statements: list[str] = []
    event.listen(
        db.engine.sync_engine,
        "before_cursor_execute",
        lambda _conn, _cursor, statement, *_: statements.append(statement),
    )
    return statements


async def test_a_slot_leased_ahead_and_asked_for_a_moment_late_is_used_not_lost(database_url):
    """A send on its way leases its slot ahead (`warm`); when it asks a few milliseconds after the slot began,
    the span (one slot long at this rate) has no whole slot left from now on. The slot is used late, within the
    late tolerance, rather than lost and the next one waited for, a whole interval later."""
    async with rate_on(database_url, "line:7", 50) as (db, rate, statements):
        await rate.acquire()  # creates the row
        await asyncio.sleep(2 * rate.interval)  # idle: nothing of the timeline is held
        rate.warm()
        await rate.close()  # the lease taken ahead is back
        await asyncio.sleep(0.004)
        statements.clear()
        asked = rate.clock.timestamp()
        slot = await rate.acquire()
        waited = rate.clock.timestamp() - asked
        reservations = [s for s in statements if "INSERT INTO rate_slots" in s]
        assert reservations == [], "the send leased again instead of using the slot leased for it"
        assert waited < rate.interval / 2, f"the send waited {waited * 1000:.0f} ms for a later slot"
        assert asked - slot <= LATE_TOLERANCE


async def test_a_lease_taken_ahead_starts_at_once(database_url):
    """A lease asked for by a send on its way (`warm`) starts when it is asked for, not a round trip's lead
    later: the send, once it asks, finds its slot begun and goes at once. Time stands still from the moment of
    asking, so what is checked is where the lease starts, not how fast the machine is."""
    async with rate_on(database_url, "line:8", 50) as (_db, rate, _statements):
        for _ in range(3):
            await rate.acquire()  # leases that took a round trip each: the lead is at least that now
            await asyncio.sleep(2 * rate.interval)
        if not rate.db.is_sqlite:  # (on SQLite there is no lease: the slot is taken when asked for)
            assert rate._lead > 0
        # Time stands still from here, past the end of every earlier lease.
        rate.clock = ManualClock(datetime.now(UTC) + timedelta(seconds=10 * MAX_SPAN))
        asked = rate.clock.timestamp()
        rate.warm()
        await rate.close()
        assert await rate.acquire() == asked


async def test_a_caller_whose_slot_went_by_takes_one_due_now_without_waiting(database_url):
    """A send whose slot went by while it waited for a connection takes another at once when the line has one
    free now (`take_due`), rather than giving its connection back and queueing again."""
    async with rate_on(database_url, "line:10", 5000) as (_db, rate, statements):
        first = await rate.acquire()
        await asyncio.sleep(0.002)  # the span leased goes on: slots of it are free now
        statements.clear()
        again = rate.take_due()
        assert again is not None, "no slot was due although the leased span has room"
        assert again - first >= rate.interval - 1e-9, "two slots closer than the interval"
        assert again <= rate.clock.timestamp(), "a slot later than now was handed out"
        assert [s for s in statements if "rate_slots" in s] == [], "taking a due slot waited for a lease"


async def test_a_slot_not_due_yet_is_left_for_the_next_caller(database_url):
    """`take_due` declines a slot that starts later than now, and does not use it up: the next caller gets it.
    Time stands still, so every slot after the first is later than now; on PostgreSQL the lease then held
    starts a round trip's lead ahead of the moment it was asked for, so even its first slot is."""
    async with rate_on(database_url, "line:11", 5000) as (_db, rate, _statements):
        for _ in range(3):
            await rate.acquire()  # leases that took a round trip each: the lead is at least that now
            await asyncio.sleep(2 * MAX_SPAN)
        rate.clock = ManualClock(datetime.now(UTC) + timedelta(seconds=10 * MAX_SPAN))
        first = await rate.acquire()
        assert rate.take_due() is None, "a slot later than now was handed out"
        second = await rate.acquire()
        assert second == pytest.approx(first + rate.interval, abs=1e-6), "the declined slot was used up"
