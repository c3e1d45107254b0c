"""Customers' texts, from the carriers' webhooks into their conversations, in two steps.

1. `Intake.accept` writes a webhook's texts to `inbound_texts`: one INSERT and one commit shared by every
   webhook waiting at that moment (group commit), each webhook answered once the commit that holds its text
   is done. A crash after the 200 loses nothing, and a webhook costs a share of one commit instead of a
   transaction of a dozen statements, which is what let the webhook keep up with a burst of texts.
2. `IntakeWorker` takes the stored texts in the order they came, a batch per transaction and each text in a
   savepoint, into their conversation (`service.store_inbound`: the message, keywords, the inbox, the Slack
   outbox rows), and deletes them in that transaction. Replicas share the work by customer: a batch takes a
   PostgreSQL advisory lock per sender and passes over the senders another replica holds, so each customer's
   texts are stored, and shown in Slack, in the order they came, and different customers' texts in parallel.

A text that cannot be taken (a failure that is not the database being away) keeps its row, marked with when
and why, and the worker goes on with the next: one bad text holds up no other. An opt-out keyword counts from
the moment its webhook is answered: while it waits here, the send gate holds every text to its sender
(bot.compliance.gate).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, or_, select, text, update

from bot.carriers.base import InboundSMS
from bot.compliance.keywords import Keyword, classify
from bot.conversations.service import InboundResult, normalize_sender, store_inbound
from bot.phone import mask
from bot.services import Services
from storage.bulk import among, insert_rows
from storage.db import storage_unreachable
from storage.models import InboundText

log = logging.getLogger(__name__)

GROUP_LIMIT = 500  # texts in one group commit at most
BATCH_SECONDS = 0.02  # a batch stops taking texts after this long (PostgreSQL)
BATCH_LIMIT = 100  # texts in one batch at most (PostgreSQL)
# SQLite has one writer, and a webhook waiting for it goes first only between two transactions: one text each.
POLL_SECONDS = 1.0  # how often a worker looks without being woken (texts stored by another replica)
MAX_ATTEMPTS = 5  # a text that failed this often stays in inbound_texts, with its error, for a person to look at
RETRY_AFTER = timedelta(seconds=60)  # between two attempts at a text that failed
MAX_BACKOFF = 30.0
# The advisory locks of senders being taken (two-key form: this namespace, the sender's hashtext).
SENDER_LOCKS = 0x5E5_1B7A
# The senders whose lock this transaction obtained, among those asked for (a taken lock is held to the commit).
_LOCK_SENDERS = text(
    "SELECT sender FROM unnest(CAST(:senders AS text[])) AS sender "
    "WHERE pg_try_advisory_xact_lock(:namespace, hashtext(sender))"
)


@dataclass
class _Waiting:
    rows: list[dict]
    done: asyncio.Future


class Intake:
    """Group commit of inbound texts: one writer at a time, taking everything that waits when it starts."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task | None = None

    async def accept(self, texts: list[InboundSMS]) -> None:
        """Return once `texts` are committed to `inbound_texts` (a text already there is kept once). Raises
        what the database raised when the commit failed: then nothing of this group is stored."""
        if not texts:
            return
        now = self._services.clock.now()
        waiting = _Waiting([_row(sms, now) for sms in texts], asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await asyncio.shield(waiting.done)

    async def _write(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting[:GROUP_LIMIT], self._waiting[GROUP_LIMIT:]
            rows = list({row["carrier_sid"]: row for each in group for row in each.rows}.values())
            try:
                async with self._services.db.session(urgent=True) as session:
                    await insert_rows(session, InboundText.__table__, rows, on_conflict_do_nothing=["carrier_sid"])
            except Exception as exc:  # each webhook of the group answers it (503 when the database is away)
                for each in group:
                    each.done.set_exception(exc)
                    each.done.exception()  # marked as retrieved: a webhook whose client left never reads it
                continue
            for each in group:
                each.done.set_result(None)
            self._services.wakeups.poke_intake()


def _row(sms: InboundSMS, now) -> dict:
    return {
        "carrier_sid": sms.carrier_sid,
        "sender": normalize_sender(sms.from_),
        "opt_out": classify(sms.body) is Keyword.OPT_OUT,
        "recipient": sms.to,
        "messaging_service": sms.messaging_service,
        "body": sms.body,
        "media": [{"url": url, "content_type": ctype} for url, ctype in sms.media],
        "received_at": now,
    }


def _inbound(row: InboundText) -> InboundSMS:
    return InboundSMS(
        carrier_sid=row.carrier_sid,
        from_=row.sender,
        to=row.recipient,
        body=row.body,
        media=tuple((item["url"], item["content_type"]) for item in row.media),
        messaging_service=row.messaging_service,
    )


class IntakeWorker:
    """Takes stored texts into their conversations until `stop()`, woken by each group commit."""

    def __init__(
        self,
        services: Services,
        *,
        batch_seconds: float | None = None,
        batch_limit: int | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.services = services
        sqlite = services.db.is_sqlite
        self.batch_seconds = (0.0 if sqlite else BATCH_SECONDS) if batch_seconds is None else batch_seconds
        self.batch_limit = (1 if sqlite else BATCH_LIMIT) if batch_limit is None else batch_limit
        self.poll_seconds = poll_seconds
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Loop until `stop()`: take batches while there are texts, then wait to be woken (or poll)."""
        wake = self.services.wakeups.intake
        failures = 0
        while not self._stopping.is_set():
            wake.clear()
            try:
                while await self.take_batch() and not self._stopping.is_set():
                    pass
                failures = 0
                delay = self.poll_seconds
            except Exception as exc:  # the database may be briefly away: keep the worker alive, try again
                failures += 1
                delay = min(MAX_BACKOFF, 0.5 * 2 ** min(failures, 6))
                if storage_unreachable(exc):
                    log.warning("intake: the database is unreachable (%s); trying again in %.1fs", exc, delay)
                else:
                    log.exception("intake: cannot take stored texts; trying again in %.1fs", delay)
            try:
                await asyncio.wait_for(wake.wait(), timeout=delay)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        """Let the batch under way commit (its texts are then taken once), then stop."""
        self._stopping.set()
        self.services.wakeups.poke_intake()

    async def take_batch(self) -> int:
        """Take the oldest waiting texts into their conversations, in one transaction; return how many were
        settled (taken, found to be redeliveries, or failed), 0 when none waits or other replicas are taking
        the senders of all of them."""
        services = self.services
        deadline = time.monotonic() + self.batch_seconds
        now = services.clock.now()
        async with services.db.session() as session:
            waiting = (
                await session.execute(
                    select(InboundText)
                    .where(
                        InboundText.attempts < MAX_ATTEMPTS,
                        or_(InboundText.failed_at.is_(None), InboundText.failed_at < now - RETRY_AFTER),
                    )
                    .order_by(InboundText.id)
                    .limit(self.batch_limit)
                )
            ).scalars()
            rows = list(waiting)
            if rows and not services.db.is_sqlite:
                senders = sorted({row.sender for row in rows})
                ours = set(
                    (await session.scalars(_LOCK_SENDERS, {"senders": senders, "namespace": SENDER_LOCKS})).all()
                )
                rows = [row for row in rows if row.sender in ours]
            # Plain values first: a savepoint rolled back expires what the session holds.
            texts = [(row.id, row.attempts, _inbound(row)) for row in rows]
            taken: list[int] = []
            failed = 0
            results: list[InboundResult] = []
            for row_id, attempts, sms in texts:
                if (taken or failed) and time.monotonic() >= deadline:
                    break
                try:
                    async with session.begin_nested():
                        results.append(await store_inbound(session, services, sms))
                except Exception as exc:
                    if storage_unreachable(exc):
                        raise
                    await self._failed(session, row_id, attempts, sms, exc)
                    failed += 1
                else:
                    taken.append(row_id)
            if taken:
                await session.execute(delete(InboundText).where(among(session, InboundText.id, taken)))
        self._stored(results)
        return len(taken) + failed

    async def _failed(self, session, row_id: int, attempts: int, sms: InboundSMS, exc: Exception) -> None:
        """Record why a text could not be taken; it is tried again after RETRY_AFTER, MAX_ATTEMPTS times."""
        final = attempts + 1 >= MAX_ATTEMPTS
        log.exception(
            "intake: text %s from %s cannot be taken (attempt %d of %d%s)",
            sms.carrier_sid,
            mask(sms.from_),
            attempts + 1,
            MAX_ATTEMPTS,
            "; it is kept in inbound_texts with the error" if final else "",
        )
        await session.execute(
            update(InboundText)
            .where(InboundText.id == row_id)
            .values(
                attempts=attempts + 1,
                failed_at=self.services.clock.now(),
                error=f"{type(exc).__name__}: {exc}"[:2000],
            )
        )

    def _stored(self, results: list[InboundResult]) -> None:
        """After the commit: count the texts stored, wake the Slack outbox and the sender for them."""
        services = self.services
        stored = [result.line for result in results if result.line is not None]  # set only when stored
        for line in stored:
            services.metrics.texts_in.labels(line.config.key, services.carrier_for(line.id).name).inc()
        if stored:
            services.wakeups.poke_outbox()
            services.wakeups.poke_sender()
