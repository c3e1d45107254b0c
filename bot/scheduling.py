"""This process's periodic scans for due rows, on one APScheduler `AsyncIOScheduler`.

To add a scan, give it a name and an interval; the app starts the scheduler with its workers and stops it
with them::

    services.scheduler.every(0.5, "notify: escalations", lambda: escalation.escalate_due(services))

A scan only looks for rows whose due time has passed; what must happen once is taken with a conditional
UPDATE of its row (`... WHERE escalated_at IS NULL`), so replicas, each with its own scheduler and in-memory
job store, may scan the same rows at the same time and still act once. Nothing is kept in the scheduler
that a restart would lose: the due times are columns. Runs of one scan never overlap (`max_instances=1`) and
runs missed while the loop was busy are folded into one (`coalesce`).

Workers that react to events (the sender, the Slack outbox) keep their own loops with asyncio.Event
wake-ups: a scan every half second would be slower than a wake-up and no cheaper.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)
# APScheduler logs every run (INFO), and warns of every run skipped because the previous one is still going,
# which is what max_instances=1 is for. Failures of a scan are logged by `every`.
logging.getLogger("apscheduler").setLevel(logging.ERROR)

STOP_GRACE_SECONDS = 10.0  # how long a scan under way may take to finish when the app stops


class Scheduler:
    """The process's interval jobs. Jobs may be added before or after `start`."""

    def __init__(self) -> None:
        self._scheduler = AsyncIOScheduler(
            jobstores={"default": MemoryJobStore()},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        self._running: set[asyncio.Task] = set()

    @property
    def running(self) -> bool:
        return self._scheduler.running

    def every(self, seconds: float, name: str, scan: Callable[[], Awaitable[object]]) -> None:
        """Run `scan()` every `seconds`, the first time as soon as the scheduler starts. A failing run is
        logged and the next one comes at its time (the database may be briefly away)."""

        async def run() -> None:
            task = asyncio.current_task()
            assert task is not None  # APScheduler runs each job as a task
            self._running.add(task)
            try:
                await scan()
            except Exception:
                log.exception("%s: scan failed; the next runs in %ss", name, seconds)
            finally:
                self._running.discard(task)

        self._scheduler.add_job(run, "interval", seconds=seconds, id=name, name=name, next_run_time=datetime.now(UTC))

    def start(self) -> None:
        self._scheduler.start()

    async def stop(self) -> None:
        """Start no more runs, let the runs under way finish (cancelled past STOP_GRACE_SECONDS), shut down."""
        if not self._scheduler.running:
            return
        self._scheduler.pause()
        if self._running:
            _done, late = await asyncio.wait(set(self._running), timeout=STOP_GRACE_SECONDS)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self._scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down in a callback of the loop
