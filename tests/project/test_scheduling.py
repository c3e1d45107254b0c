"""The process's scheduler of periodic scans starts and stops with the app's workers."""

from __future__ import annotations

import asyncio

from sqlalchemy import text


async def _until(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_scheduler_stops_cleanly_with_the_app(make_bridge):
    bridge = await make_bridge()
    scheduler = bridge.services.scheduler
    assert scheduler.running
    runs: list[str] = []

    async def slow_scan() -> None:
        runs.append("start")
        await asyncio.sleep(0.5)
        async with bridge.services.db.session() as session:  # its database is still there at the end
            await session.execute(text("SELECT 1"))
        runs.append("end")

    scheduler.every(0.05, "test: slow scan", slow_scan)
    await _until(lambda: runs)
    await bridge.stop()
    assert runs == ["start", "end"]  # the run under way finished; runs never overlap
    assert not scheduler.running
    await asyncio.sleep(0.3)
    assert runs == ["start", "end"]  # and none came after


async def test_a_failing_scan_runs_again_at_its_next_time(make_bridge):
    bridge = await make_bridge()
    calls: list[int] = []

    async def flaky_scan() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise ConnectionError("database away")

    bridge.services.scheduler.every(0.05, "test: flaky scan", flaky_scan)
    await _until(lambda: len(calls) >= 3)


async def test_no_scans_without_workers(make_bridge):
    bridge = await make_bridge(run_workers=False)
    assert not bridge.services.scheduler.running
