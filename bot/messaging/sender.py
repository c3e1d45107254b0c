"""The sender: takes queued messages, passes them through the gate, hands them to the carrier, records
the outcome. The only code that calls `carrier.send`.

Exactly once: a message is marked `sending` (committed) before the carrier call. If the process dies
or the call times out, the row stays `sending`; when its claim lapses it is reconciled against the
carrier's own records — found means sent, not found means it is queued again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.carriers.base import (
    AmbiguousCarrierError,
    OutboundSMS,
    PermanentCarrierError,
    SendResult,
    TransientCarrierError,
)
from bot.compliance import gate
from bot.messaging import media as media_links
from bot.messaging.status import after_failure, after_send, apply_stored_statuses, notify_blocked
from bot.phone import mask
from bot.ratelimit import SharedRate
from bot.services import Services
from bot.slack.files import materialize_slack_files
from storage.models import Message

log = logging.getLogger(__name__)

CLAIM_SECONDS = 30  # longer than one carrier call may take (the client times out at 15 s)
MAX_TRANSIENT_ATTEMPTS = 10
MAX_BACKOFF = 300.0


class SendWorker:
    """Claims due messages in batches and sends them concurrently, each line at its own rate."""

    def __init__(self, services: Services, *, batch_size: int = 100, concurrency: int = 50,
                 rate_override: float | None = None) -> None:
        self.services = services
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.rate_override = rate_override
        self._rates: dict[int, SharedRate] = {}
        self._stopping = asyncio.Event()
        self._policy = gate.quiet_policy(services.settings.compliance)

    async def run(self) -> None:
        wake = self.services.wakeups.sender
        slots = asyncio.Semaphore(self.concurrency)
        tasks: set[asyncio.Task] = set()
        while not self._stopping.is_set():
            wake.clear()
            try:
                await self.recover_stale()
                claimed = await self._claim_batch()
            except Exception:  # database away: keep the worker alive, try again shortly
                log.exception("sender: cannot claim messages")
                claimed = []
            for message_id in claimed:
                await slots.acquire()
                task = asyncio.create_task(self._send_guarded(message_id, slots))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if len(claimed) < self.batch_size:
                try:
                    await asyncio.wait_for(wake.wait(), timeout=0.5)
                except asyncio.TimeoutError:
                    pass
        await asyncio.gather(*tasks, return_exceptions=True)

    async def stop(self) -> None:
        """Stop claiming; `run` returns once the sends in flight have been recorded."""
        self._stopping.set()
        self.services.wakeups.poke_sender()

    def _rate(self, line_id: int) -> SharedRate:
        """The line's carrier rate, shared with every other replica through the database."""
        if line_id not in self._rates:
            line = self.services.lines.by_id(line_id)
            rate = self.rate_override or (line.config.mps if line else 1.0)
            self._rates[line_id] = SharedRate(self.services.db, self.services.clock, f"line:{line_id}", rate)
        return self._rates[line_id]

    async def _claim_batch(self) -> list[int]:
        now = self.services.clock.now()
        async with self.services.db.session() as session:
            due = (
                select(Message.id)
                .where(Message.status == "queued")
                .where((Message.next_attempt_at.is_(None)) | (Message.next_attempt_at <= now))
                .order_by(Message.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            )
            ids = list((await session.scalars(due)).all())
            if ids:
                await session.execute(
                    update(Message)
                    .where(Message.id.in_(ids), Message.status == "queued")
                    .values(status="sending", claim_until=now + timedelta(seconds=CLAIM_SECONDS))
                )
            return ids

    async def _send_guarded(self, message_id: int, slots: asyncio.Semaphore) -> None:
        try:
            await self.send_one(message_id)
        except Exception:
            log.exception("sender: message %s failed unexpectedly; it will be reconciled", message_id)
        finally:
            slots.release()

    async def send_one(self, message_id: int) -> None:
        """Gate, then send one claimed message and record what happened."""
        now = self.services.clock.now()
        async with self.services.db.session() as session:
            message = await session.get(Message, message_id)
            if message is None or message.status != "sending":
                return
            decision = await gate.check(session, message, config=self.services.settings.compliance,
                                        policy=self._policy, now=now)
            if decision.action == "block":
                message.status, message.error_message, message.claim_until = "blocked", decision.reason, None
                await notify_blocked(session, self.services, message)
                log.info("sender: message %s to %s blocked: %s", message.id, mask(message.phone), decision.reason)
                return
            if decision.action == "defer":
                message.status, message.next_attempt_at, message.claim_until = "queued", decision.until, None
                message.error_message = f"deferred: {decision.reason}"
                return
            if any("slack_file" in item for item in message.media or []):
                message.media = await materialize_slack_files(session, self.services, message.media)
            media_urls = await self._media_urls(session, message)
            outbound = OutboundSMS(
                to=message.phone,
                sender=self.services.lines.by_id(message.line_id).config.key,
                body=message.body,
                media_urls=media_urls,
                status_callback=self.services.settings.callback_url("/sms/twilio/status"),
            )
            message.attempts += 1
        await self._rate(message.line_id).acquire()
        try:
            result = await self.services.carrier.send(outbound)
        except TransientCarrierError as exc:
            await self._retry(message_id, exc.code, str(exc), exc.retry_after)
        except AmbiguousCarrierError as exc:
            log.warning("sender: outcome of message %s unknown (%s); reconciling", message_id, exc)
            await self._reconcile(message_id)
        except PermanentCarrierError as exc:
            await self._fail(message_id, exc.code, str(exc))
        else:
            await self._record_sent(message_id, result)

    async def _media_urls(self, session: AsyncSession, message: Message) -> tuple[str, ...]:
        urls = []
        for item in message.media or []:
            media_id = item.get("media_id")
            if media_id is None:
                continue
            token = media_links.make_token(self.services.settings.media_secret, media_id, self.services.clock.now())
            urls.append(self.services.settings.callback_url(f"/media/{token}"))
        return tuple(urls)

    async def _record_sent(self, message_id: int, result: SendResult) -> None:
        async with self.services.db.session() as session:
            message = await session.get(Message, message_id)
            message.status, message.carrier_sid = "sent", result.carrier_sid
            message.sent_at, message.claim_until = self.services.clock.now(), None
            message.error_code = message.error_message = None
            if result.segments:
                message.segments = result.segments
            await after_send(session, self.services, message)
            await apply_stored_statuses(session, self.services, message)

    async def _retry(self, message_id: int, code: int | None, reason: str, retry_after: float | None) -> None:
        async with self.services.db.session() as session:
            message = await session.get(Message, message_id)
            if message.attempts >= MAX_TRANSIENT_ATTEMPTS:
                message.status, message.error_code, message.claim_until = "failed", code, None
                message.error_message = f"gave up after {message.attempts} attempts: {reason}"
                await after_failure(session, self.services, message)
                return
            delay = retry_after or min(MAX_BACKOFF, 2 ** message.attempts)
            message.status, message.claim_until = "queued", None
            message.next_attempt_at = self.services.clock.now() + timedelta(seconds=delay)
            message.error_message = f"retrying: {reason}"
        log.info("sender: message %s retried in %.0fs: %s", message_id, delay, reason)

    async def _fail(self, message_id: int, code: int | None, reason: str) -> None:
        async with self.services.db.session() as session:
            message = await session.get(Message, message_id)
            message.status, message.error_code, message.error_message = "failed", code, reason
            message.claim_until = None
            await after_failure(session, self.services, message)
        log.info("sender: message %s failed permanently: %s", message_id, reason)

    async def recover_stale(self) -> None:
        """Reconcile messages left `sending` by a crash or a lost answer, once their claim has lapsed."""
        now = self.services.clock.now()
        async with self.services.db.session() as session:
            stale = list((await session.scalars(
                select(Message.id).where(Message.status == "sending", Message.claim_until < now).limit(100)
            )).all())
        for message_id in stale:
            await self._reconcile(message_id)

    async def _reconcile(self, message_id: int) -> None:
        async with self.services.db.session() as session:
            message = await session.get(Message, message_id)
            sender_key = self.services.lines.by_id(message.line_id).config.key
            since = message.created_at - timedelta(minutes=5)
        try:
            records = await self.services.carrier.find_sent(to=message.phone, sender=sender_key, since=since)
        except Exception as exc:  # noqa: BLE001 - the carrier may be away; try again when the claim lapses
            log.warning("sender: cannot reconcile message %s yet: %s", message_id, exc)
            async with self.services.db.session() as session:
                await session.execute(update(Message).where(Message.id == message_id).values(
                    claim_until=self.services.clock.now() + timedelta(seconds=CLAIM_SECONDS)))
            return
        async with self.services.db.session() as session:
            known = set((await session.scalars(
                select(Message.carrier_sid).where(Message.carrier_sid.in_([r.carrier_sid for r in records]))
            )).all()) if records else set()
        match = next((r for r in records if r.body == message.body and r.carrier_sid not in known), None)
        if match is not None:
            log.info("sender: message %s was accepted by the carrier before we lost track (%s)", message_id, match.carrier_sid)
            await self._record_sent(message_id, SendResult(carrier_sid=match.carrier_sid))
            return
        async with self.services.db.session() as session:
            await session.execute(update(Message).where(Message.id == message_id, Message.status == "sending").values(
                status="queued", claim_until=None, next_attempt_at=self.services.clock.now()))
        self.services.wakeups.poke_sender()

