"""The sender: takes queued messages, passes them through the gate, hands them to the carrier, records
the outcome. The only code that calls `carrier.send`.

Exactly once: a message is marked `sending` (committed) before the carrier call. If the process dies
or the carrier's answer is lost, the row stays `sending` and is reconciled (bot.messaging.reconcile): settled by
a status callback or the carrier's own records, and queued again only if still absent after a bounded window.

Work goes in batches: one transaction claims a batch, one gates it, the carrier calls run concurrently
(each at its line's shared rate), one transaction records the outcomes. Per text, the database sees a
row in a few statements that each carry the whole batch, rather than transactions of its own.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import media as media_links
from bot.carriers.base import (
    AmbiguousCarrierError,
    CarrierError,
    OutboundSMS,
    SendResult,
    TransientCarrierError,
)
from bot.carriers.twilio import status_callback_url
from bot.compliance import gate
from bot.messaging import reconcile
from bot.messaging.status import (
    after_failure,
    after_send,
    apply_late_receipts,
    apply_stored_statuses,
    needs_side_effects,
    notify_blocked,
)
from bot.phone import mask
from bot.ratelimit import SharedRate
from bot.services import Services
from bot.slack.files import materialize_slack_files
from storage.bulk import update_rows
from storage.models import Message

# Claims go through Core statements on the table: the ORM's bulk paths cost more per row.
_messages = Message.__table__
# What the gate and the carrier call need of a message, read without building ORM objects.
_GATE_COLUMNS = tuple(
    _messages.c[name] for name in ("id", "phone", "line_id", "purpose", "body", "media", "slack_channel", "origin")
)

log = logging.getLogger(__name__)

# A gated message ready for the carrier: its id, the text, and whether recording it has side effects.
Ready = tuple[int, OutboundSMS, bool]

MIN_BATCH, MAX_BATCH = 50, 200  # messages claimed per transaction (see SendWorker._default_batch_size)
CLAIM_SECONDS = 30  # how long a claimed message is ours; past it, another replica may reconcile it
# A carrier call must be over before the claim lapses (the client times out at 15 s), or a replica reconciling
# the lapsed message could find nothing yet and send it again. Closer to the end than this, we do not call.
LAST_CALL_BEFORE_LAPSE = 15 + 3
RECORD_MARGIN = 5.0  # an outcome is recorded at least this long before its claim lapses, or not at all
MAX_TRANSIENT_ATTEMPTS = 10
MAX_BACKOFF = 300.0
RECOVERY_EVERY = 1.0  # seconds between passes over messages whose outcome is unknown (see bot.messaging.reconcile)
RECEIPTS_EVERY = 1.0  # seconds between sweeps for receipts that raced their message's recording


@dataclass
class Outcome:
    """What the carrier made of one message."""

    message_id: int
    result: SendResult | None = None
    error: CarrierError | None = None
    side_effects: bool = True  # whether recording it must go through the status module
    abandoned: bool = False  # not sent: the claim was too near its end (it is queued again)

    @property
    def plain(self) -> bool:
        """A success with nothing to do beyond storing it."""
        return self.result is not None and not self.side_effects


class SendWorker:
    """Claims due messages in batches and sends them concurrently, each line at its own shared rate."""

    def __init__(
        self,
        services: Services,
        *,
        batch_size: int | None = None,
        concurrency: int = 100,
        batches_in_flight: int = 4,
        rate_override: float | None = None,
    ) -> None:
        self.services = services
        self.rate_override = rate_override
        self.batch_size = batch_size or self._default_batch_size()
        # Several batches in flight keep the database work of one (gating, recording) beside the
        # carrier calls of another; `concurrency` bounds the carrier calls open at once.
        self.batches_in_flight = batches_in_flight
        # Tokens for the carrier calls open at once. Not an asyncio.Semaphore: its locked(), which its acquire
        # calls too, scans every waiter while one is being woken, and a campaign keeps hundreds waiting.
        self._carrier_calls: asyncio.Queue[int] = asyncio.Queue()
        for token in range(concurrency):
            self._carrier_calls.put_nowait(token)
        self._rates: dict[str, SharedRate] = {}  # by the line's sender key
        self._stopping = asyncio.Event()
        self._policy = gate.quiet_policy(services.settings.compliance)
        self._last_recovery = self._last_receipts = float("-inf")
        self._recovery: asyncio.Task | None = None  # the reconciliation pass under way, if any

    async def run(self) -> None:
        wake = self.services.wakeups.sender
        slots = asyncio.Semaphore(self.batches_in_flight)
        tasks: set[asyncio.Task] = set()
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            wake.clear()
            claimed, ready, claim_ends, acquired = 0, [], 0.0, False
            try:
                if loop.time() - self._last_recovery > RECOVERY_EVERY and not self._recovering:
                    self._last_recovery = loop.time()
                    # Beside the claims, not before them: a successor has a crashed sender's texts to reconcile.
                    self._recovery = asyncio.create_task(self._recover_guarded())
                if loop.time() - self._last_receipts > RECEIPTS_EVERY:
                    self._last_receipts = loop.time()
                    await apply_late_receipts(self.services)
                await slots.acquire()
                acquired = True
                claimed, ready, claim_ends = await self._claim_batch()
            except Exception:  # database away: keep the worker alive, try again shortly
                log.exception("sender: cannot claim messages")
            if ready:
                task = asyncio.create_task(self._batch_guarded(ready, claim_ends, slots))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            elif acquired:
                slots.release()
            if claimed < self.batch_size:
                try:
                    await asyncio.wait_for(wake.wait(), timeout=0.5)
                except TimeoutError:
                    pass
        await asyncio.gather(*tasks, *([self._recovery] if self._recovery else []), return_exceptions=True)
        await asyncio.gather(*(rate.close() for rate in self._rates.values()))

    @property
    def _recovering(self) -> bool:
        return self._recovery is not None and not self._recovery.done()

    async def _recover_guarded(self) -> None:
        try:
            await reconcile.recover(self.services)
        except Exception:  # database away: the next pass tries again
            log.exception("sender: cannot reconcile messages whose outcome is unknown")

    async def stop(self) -> None:
        """Stop claiming; `run` returns once the batches in flight have been recorded."""
        self._stopping.set()
        self.services.wakeups.poke_sender()

    def _default_batch_size(self) -> int:
        """About half a second of the slowest campaign line's rate, from MIN_BATCH to MAX_BATCH texts.

        A bigger batch costs less per text (its transactions are shared), but it is recorded only when its last
        text is sent, and only then does a campaign's window (a second of its line's rate, see
        bot.campaigns.service.window_for) have room to queue more: a throttled line must have its window
        claimed in two batches or more, or it would stop at every refill."""
        rates = [
            self.rate_override or line.config.mps for line in self.services.lines.all() if line.config.sends_campaigns
        ]
        return max(MIN_BATCH, min([MAX_BATCH] + [math.ceil(rate / 2) for rate in rates]))

    def _rate(self, sender_key: str) -> SharedRate:
        """The carrier rate of the line that sends as `sender_key`, shared with every other replica through
        the database."""
        if sender_key not in self._rates:
            line = self.services.lines.by_key(sender_key)
            rate = self.rate_override or line.config.mps
            self._rates[sender_key] = SharedRate(self.services.db, self.services.clock, f"line:{line.id}", rate)
        return self._rates[sender_key]

    async def _claim_batch(self) -> tuple[int, list[Ready], float]:
        """Claim a batch of due messages and pass it through the gate, in one transaction. Returns how many
        were claimed, those that may be sent now (blocks and deferrals are stored), and the loop time the
        batch's claim lapses."""
        now = self.services.clock.now()
        deadline = asyncio.get_running_loop().time() + CLAIM_SECONDS  # taken before the claim, so never late
        async with self.services.db.session() as session:
            messages = _messages.c
            due = (
                select(messages.id)
                .where(messages.status == "queued")
                .where((messages.next_attempt_at.is_(None)) | (messages.next_attempt_at <= now))
                .order_by(messages.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            )
            # Counted as an attempt now; a held message gives it back (see _hold_back).
            claim = (
                update(_messages)
                .where(messages.id.in_(due.scalar_subquery()))
                .values(
                    status="sending",
                    claim_until=now + timedelta(seconds=CLAIM_SECONDS),
                    claimed_by=self.services.worker_id,
                    attempts=messages.attempts + 1,
                )
                .returning(*_GATE_COLUMNS)
            )
            rows = sorted((await session.execute(claim)).all(), key=lambda row: row.id)
            if not rows:
                return 0, [], deadline
            ready = await self._gate(session, rows, now)
        return len(rows), ready, deadline

    async def _batch_guarded(self, ready: list[Ready], claim_ends: float, slots: asyncio.Semaphore) -> None:
        try:
            await self.send_batch(ready, claim_ends)
        except Exception:
            log.exception("sender: a batch failed unexpectedly; its messages will be reconciled")
        finally:
            slots.release()

    async def send_batch(self, ready: list[Ready], claim_ends: float) -> None:
        """Send a batch of claimed, gated messages concurrently and record the outcomes. `claim_ends`: the
        loop time the batch's claim lapses."""
        outcomes = await asyncio.gather(*(self._call_carrier(*item, claim_ends) for item in ready))
        await self._record_while_ours(outcomes, claim_ends)
        self.services.wakeups.poke_campaigns()  # recorded texts leave a campaign's window: room to queue more

    async def _record_while_ours(self, outcomes: list[Outcome], claim_ends: float) -> None:
        """Record the outcomes, retrying while the database is away, as long as the claim is ours: past that
        the messages are left to reconciliation, which asks the carrier what was sent."""
        loop, delay = asyncio.get_running_loop(), 0.2
        while True:
            try:
                await self._record(outcomes, claim_ends)
                return
            except Exception as exc:
                if loop.time() + delay > claim_ends - RECORD_MARGIN:
                    raise
                log.warning("sender: cannot record %d outcomes yet (%s); retrying", len(outcomes), exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _gate(self, session: AsyncSession, rows: list, now) -> list[Ready]:
        """Apply the send gate to claimed rows; store blocks and deferrals; return what may be sent now,
        each with whether its status changes have side effects (see `needs_side_effects`)."""
        decisions = await gate.check_many(
            session, rows, config=self.services.settings.compliance, policy=self._policy, now=now
        )
        held = [row.id for row in rows if decisions[row.id].action != "send"]
        with_files = [
            row.id
            for row in rows
            if decisions[row.id].allowed and any("slack_file" in item for item in row.media or [])
        ]
        media = await self._hold_back(session, held, with_files, decisions)
        callback = self.services.settings.callback_url("/sms/twilio/status")
        return [
            (
                row.id,
                self._outbound(row, media.get(row.id, row.media), callback),
                needs_side_effects(self.services, row.slack_channel, row.origin),
            )
            for row in rows
            if decisions[row.id].allowed
        ]

    async def _hold_back(
        self, session: AsyncSession, held: list[int], with_files: list[int], decisions: dict[int, gate.Decision]
    ) -> dict[int, list]:
        """Store blocks and deferrals; download files shared in Slack. Returns the new media lists."""
        media: dict[int, list] = {}
        if not held and not with_files:
            return media
        for message in await session.scalars(select(Message).where(Message.id.in_(held + with_files))):
            decision = decisions[message.id]
            if decision.action != "send":
                message.attempts -= 1  # never offered to the carrier
            if decision.action == "block":
                message.status, message.error_message, message.claim_until = "blocked", decision.reason, None
                await notify_blocked(session, self.services, message)
                log.info("sender: message %s to %s blocked: %s", message.id, mask(message.phone), decision.reason)
            elif decision.action == "defer":
                message.status, message.next_attempt_at, message.claim_until = "queued", decision.until, None
                message.error_message = f"deferred: {decision.reason}"
            else:
                message.media = media[message.id] = await materialize_slack_files(session, self.services, message.media)
        return media

    def _outbound(self, row, media: list, status_callback: str) -> OutboundSMS:
        return OutboundSMS(
            to=row.phone,
            sender=self.services.lines.by_id(row.line_id).config.key,
            body=row.body,
            media_urls=self._media_urls(media),
            status_callback=status_callback_url(status_callback, row.id),
        )

    def _media_urls(self, media: list) -> tuple[str, ...]:
        urls = []
        for item in media or []:
            if item.get("media_id") is not None:
                token = media_links.make_token(
                    self.services.settings.media_secret, item["media_id"], self.services.clock.now()
                )
                urls.append(self.services.settings.callback_url(f"/media/{token}"))
        return tuple(urls)

    async def _call_carrier(self, message_id: int, sms: OutboundSMS, side_effects: bool, claim_ends: float) -> Outcome:
        rate = self._rate(sms.sender)
        while True:
            # The slot is awaited before a connection is taken: waiting for one's slot holds no carrier call.
            slot = await rate.acquire()
            must_wait = self._carrier_calls.empty()
            token = await self._carrier_calls.get()
            try:
                if must_wait and not rate.still_in_time(slot):
                    continue  # all connections were busy past the slot: take another
                if asyncio.get_running_loop().time() > claim_ends - LAST_CALL_BEFORE_LAPSE:
                    log.warning(
                        "sender: message %s not sent: its claim is about to lapse; it will be reconciled", message_id
                    )
                    return Outcome(message_id, abandoned=True)
                try:
                    return Outcome(message_id, result=await self.services.carrier.send(sms), side_effects=side_effects)
                except CarrierError as exc:
                    return Outcome(message_id, error=exc, side_effects=side_effects)
            finally:
                self._carrier_calls.put_nowait(token)

    async def _record(self, outcomes: list[Outcome], claim_ends: float) -> None:
        """Store every outcome of a batch in one transaction: a lost answer is left to reconciliation, a text
        abandoned before its call is queued again.

        Plain successes (no reaction to show, nobody listening) are one UPDATE (storage.bulk); the rest go
        through the status module one by one."""
        now = self.services.clock.now()
        plain = [o for o in outcomes if o.plain]
        unknown = [o.message_id for o in outcomes if isinstance(o.error, AmbiguousCarrierError)]
        abandoned = [o.message_id for o in outcomes if o.abandoned]
        others = [o for o in outcomes if not o.plain and not o.abandoned and o.message_id not in unknown]
        async with self.services.db.session() as session:
            if unknown:
                for outcome in outcomes:
                    if outcome.message_id in unknown:
                        log.warning("sender: outcome of message %s unknown (%s)", outcome.message_id, outcome.error)
                claimed_at = now - timedelta(seconds=CLAIM_SECONDS - (claim_ends - asyncio.get_running_loop().time()))
                await reconcile.mark_unknown(session, unknown, min(claimed_at, now), now)
            if abandoned:
                await session.execute(
                    update(_messages)
                    .where(_messages.c.id.in_(abandoned), _messages.c.status == "sending")
                    .values(status="queued", claim_until=None, next_attempt_at=now, attempts=_messages.c.attempts - 1)
                )
            if plain:
                await update_rows(
                    session,
                    _messages,
                    [{"id": o.message_id, "carrier_sid": o.result.carrier_sid} for o in plain],
                    status="sent",
                    sent_at=now,
                    claim_until=None,
                    error_code=None,
                    error_message=None,
                )
            sent = []
            if others:
                messages = {
                    m.id: m
                    for m in await session.scalars(
                        select(Message).where(Message.id.in_([o.message_id for o in others]))
                    )
                }
                for outcome in others:
                    message = messages[outcome.message_id]
                    if outcome.result is not None:
                        await self._sent(session, message, outcome.result, now)
                        sent.append(message)
                    elif isinstance(outcome.error, TransientCarrierError):
                        await self._retry(session, message, outcome.error, now)
                    else:
                        message.status, message.error_code = "failed", outcome.error.code
                        message.error_message, message.claim_until = str(outcome.error), None
                        await after_failure(session, self.services, message)
            # A plain success's receipt that came before this record is applied by the sender's sweep
            # (apply_late_receipts, every second): looking for one here would cost a query per batch.
            await apply_stored_statuses(session, self.services, sent)

    async def _sent(self, session: AsyncSession, message: Message, result: SendResult, now) -> None:
        message.status, message.carrier_sid = "sent", result.carrier_sid
        message.sent_at, message.claim_until = now, None
        message.error_code = message.error_message = None
        if result.segments:
            message.segments = result.segments
        await after_send(session, self.services, message)

    async def _retry(self, session: AsyncSession, message: Message, error: CarrierError, now) -> None:
        if message.attempts >= MAX_TRANSIENT_ATTEMPTS:
            message.status, message.error_code, message.claim_until = "failed", error.code, None
            message.error_message = f"gave up after {message.attempts} attempts: {error}"
            await after_failure(session, self.services, message)
            return
        delay = error.retry_after or min(MAX_BACKOFF, 2**message.attempts)
        message.status, message.claim_until = "queued", None
        message.next_attempt_at = now + timedelta(seconds=delay)
        message.error_message = f"retrying: {error}"
        log.info("sender: message %s retried in %.0fs: %s", message.id, delay, error)
