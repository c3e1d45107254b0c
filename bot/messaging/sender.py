"""The sender: takes queued messages, passes them through the gate, hands them to the carrier, records
the outcome. The only code that calls `carrier.send`.

Exactly once: a message is marked `sending` (committed) before the carrier call. If the process dies
or the carrier's answer is lost, the row stays `sending` and is reconciled (bot.messaging.reconcile): settled by
a status callback or the carrier's own records, and queued again only if still absent after a bounded window.

Work goes in batches: one transaction claims a batch and gates it, the carrier calls run concurrently
(each at its line's shared rate), one transaction records the outcomes. Per text, the database sees a
row in a few statements that each carry the whole batch, rather than transactions of its own. Files shared
in Slack are downloaded between the claim and the carrier call with no transaction open (no row lock or
pooled connection is held over the network), then stored only if the claim still stands.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import media as media_links
from bot.carriers.base import (
    AmbiguousCarrierError,
    Carrier,
    CarrierError,
    OutboundSMS,
    PermanentCarrierError,
    SendResult,
    TransientCarrierError,
)
from bot.compliance import gate
from bot.lines import UnknownLine
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
from bot.slack.files import fetch_slack_files, has_slack_files, store_slack_files
from storage.bulk import update_rows
from storage.models import Message
from storage.states import MESSAGE_FLOW, MessageStatus

# Claims go through Core statements on the table: the ORM's bulk paths cost more per row.
_messages = Message.__table__
# What the gate and the carrier call need of a message, read without building ORM objects.
_GATE_COLUMNS = tuple(
    _messages.c[name]
    for name in (
        "id",
        "phone",
        "line_id",
        "purpose",
        "body",
        "media",
        "slack_channel",
        "origin",
        "next_attempt_at",
        "created_at",
    )
)

log = logging.getLogger(__name__)

# A gated message ready for the carrier: its id, the text, whether recording it has side effects, and when it
# was due.
Ready = tuple[int, OutboundSMS, bool, datetime]

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
class Claim:
    """A claimed, gated batch: what may be sent as it is, and what first needs the files shared in Slack."""

    ready: list[Ready]
    with_files: list  # claimed rows whose media lists files still to download from Slack
    until: datetime  # the claim_until of every message of the batch: while it stands, they are ours
    ends: float  # the loop time the claim lapses


@dataclass
class Outcome:
    """What the carrier made of one message (or why it was not offered: its files could not be had)."""

    message_id: int
    result: SendResult | None = None
    error: CarrierError | None = None
    side_effects: bool = True  # whether recording it must go through the status module
    abandoned: bool = False  # not sent: the claim was too near its end, or no rate slot (it is queued again)

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
        self._last_receipts = float("-inf")
        self._tasks: set[asyncio.Task] = set()  # batches being sent

    async def run(self) -> None:
        # Beside the claims, not before them (a successor has a crashed sender's texts to reconcile), and never
        # two passes at once: the scheduler's scan (see bot.scheduling).
        self.services.scheduler.every(
            RECOVERY_EVERY, "sender: reconciliation", lambda: reconcile.recover(self.services)
        )
        wake = self.services.wakeups.sender
        slots = asyncio.Semaphore(self.batches_in_flight)
        loop = asyncio.get_running_loop()
        self.services.send_now = self
        while not self._stopping.is_set():
            wake.clear()
            claimed, batch, acquired = 0, None, False
            try:
                await slots.acquire()
                acquired = True
                claimed, batch = await self._claim_batch()
            except Exception:  # database away: keep the worker alive, try again shortly
                log.exception("sender: cannot claim messages")
            if batch is not None:
                self._start(self._batch_guarded(batch, slots))
            elif acquired:
                slots.release()
            if loop.time() - self._last_receipts > RECEIPTS_EVERY:  # after the claim: a text waiting goes first
                self._last_receipts = loop.time()
                try:
                    await apply_late_receipts(self.services)
                except Exception:  # database away: the next pass tries again
                    log.exception("sender: cannot apply late receipts")
            if claimed < self.batch_size:
                try:
                    await asyncio.wait_for(wake.wait(), timeout=0.5)
                except TimeoutError:
                    pass
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(rate.close() for rate in self._rates.values()))

    async def stop(self) -> None:
        """Stop claiming; `run` returns once the batches in flight have been recorded."""
        self._stopping.set()
        if self.services.send_now is self:
            self.services.send_now = None
        self.services.wakeups.poke_sender()

    async def claim(
        self, session: AsyncSession, *, line_id: int, phone: str, purpose: str, media: list[dict]
    ) -> dict[str, Any] | None:
        """In the caller's transaction, before the text is queued: the values that queue it claimed by this
        sender, as `_claim_batch` would claim it, when the gate lets it go now and nothing must be downloaded
        first; None otherwise (it is queued for the next batch, which stores a block or deferral). Someone is
        waiting for this text: it skips the wait for the sender's next batch and that batch's own transaction.
        The line's next rate slot is leased meanwhile."""
        if self._stopping.is_set() or has_slack_files(media):
            return None
        now = self.services.clock.now()
        decision = await gate.check(
            session,
            gate.Unsent(phone=phone, line_id=line_id, purpose=purpose),
            config=self.services.settings.compliance,
            policy=self._policy,
            now=now,
        )
        if not decision.allowed:
            return None
        self._rate(self.services.lines.get(line_id).config.key).warm()
        return {**self._claimed(now), "attempts": 1}

    def _claimed(self, now: datetime) -> dict[str, Any]:
        """What marks a message claimed by this sender from `now` on (the attempt it counts aside)."""
        return {
            "status": MessageStatus.SENDING,
            "claim_until": now + timedelta(seconds=CLAIM_SECONDS),
            "claimed_by": self.services.worker_id,
        }

    def hand(self, message: Message) -> None:
        """Send a text queued with `claim`'s values, now that the transaction that queued it has committed.
        Should this process die first, the text is reconciled like any other claimed one."""
        until = message.claim_until
        assert until is not None and message.claimed_by == self.services.worker_id, "hand() takes a text it claimed"
        ends = asyncio.get_running_loop().time() + (until - self.services.clock.now()).total_seconds()
        self._start(self._send_handed(self._ready(message, message.media), ends, until))

    async def _send_handed(self, ready: Ready, claim_ends: float, claim_until: datetime) -> None:
        try:
            await self.send_batch([ready], claim_ends, claim_until)
        except Exception:
            log.exception("sender: message %s failed unexpectedly; it will be reconciled", ready[0])

    def _start(self, work) -> None:
        """Run a batch's sending in its own task, kept until it is done (`run` waits for them as it stops)."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
            if line is None:
                raise UnknownLine(f"no line in the settings ([[lines]]) sends as {sender_key}")
            rate = self.rate_override or line.config.mps
            self._rates[sender_key] = SharedRate(self.services.db, self.services.clock, f"line:{line.id}", rate)
        return self._rates[sender_key]

    async def _claim_batch(self) -> tuple[int, Claim | None]:
        """Claim a batch of due messages and pass it through the gate, in one transaction. Returns how many
        were claimed, and what of them may be sent (blocks and deferrals are stored), if anything."""
        now = self.services.clock.now()
        claimed = self._claimed(now)
        claim_until = claimed["claim_until"]
        deadline = asyncio.get_running_loop().time() + CLAIM_SECONDS  # taken before the claim, so never late
        async with self.services.db.session() as session:
            messages = _messages.c
            due = (
                select(messages.id)
                .where(MESSAGE_FLOW.where(messages.status, MessageStatus.QUEUED, MessageStatus.SENDING))
                .where((messages.next_attempt_at.is_(None)) | (messages.next_attempt_at <= now))
                .order_by(messages.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            )
            # Counted as an attempt now; a held message gives it back (see _hold_back).
            claim = (
                update(_messages)
                .where(messages.id.in_(due.scalar_subquery()))
                .values(**claimed, attempts=messages.attempts + 1)
                .returning(*_GATE_COLUMNS)
            )
            rows = sorted((await session.execute(claim)).all(), key=lambda row: row.id)
            if not rows:
                return 0, None
            ready, with_files = await self._gate(session, rows, now)
        if not ready and not with_files:
            return len(rows), None
        return len(rows), Claim(ready, with_files, claim_until, deadline)

    async def _batch_guarded(self, batch: Claim, slots: asyncio.Semaphore) -> None:
        try:
            # What needs no download goes out at once, not after the slowest of the batch's downloads.
            parts = [self.send_batch(batch.ready, batch.ends, batch.until)] if batch.ready else []
            parts += [self._send_with_slack_files(batch)] if batch.with_files else []
            for result in await asyncio.gather(*parts, return_exceptions=True):
                if isinstance(result, Exception):
                    log.error("sender: a batch failed unexpectedly; its messages will be reconciled", exc_info=result)
        finally:
            slots.release()

    async def send_batch(self, ready: list[Ready], claim_ends: float, claim_until: datetime) -> None:
        """Send a batch of claimed, gated messages concurrently and record the outcomes. `claim_ends`: the
        loop time the batch's claim lapses; `claim_until`: its claim_until."""
        outcomes = await asyncio.gather(*(self._call_carrier(*item, claim_ends) for item in ready))
        await self._record_while_ours(outcomes, claim_ends, claim_until)
        self.services.wakeups.poke_campaigns()  # recorded texts leave a campaign's window: room to queue more
        if any(not o.plain and not o.abandoned for o in outcomes):  # the status module may have queued Slack calls
            self.services.wakeups.poke_outbox()

    async def _record_while_ours(self, outcomes: list[Outcome], claim_ends: float, claim_until: datetime) -> None:
        """Record the outcomes, retrying while the database is away, as long as the claim is ours; past that,
        once the database is back, those of the messages nobody has taken since (see `_record_after_lapse`)."""
        loop, delay = asyncio.get_running_loop(), 0.2
        while True:
            try:
                await self._record(outcomes, claim_ends)
                return
            except Exception as exc:
                if loop.time() + delay > claim_ends - RECORD_MARGIN:
                    log.warning("sender: cannot record %d outcomes before their claim lapses (%s)", len(outcomes), exc)
                    await self._record_after_lapse(outcomes, claim_until)
                    return
                log.warning("sender: cannot record %d outcomes yet (%s); retrying", len(outcomes), exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _record_after_lapse(self, outcomes: list[Outcome], claim_until: datetime) -> None:
        """The database was away for the whole claim: what the carrier answered is known here only. Once the
        database is back, take back the messages that are as our claim left them (still `sending`, claimed by us
        until `claim_until`: no reconciliation has looked at them) and record their outcomes, so that a text the
        carrier refused or never got is not held for the reconciliation window, and one it took is recorded with
        its sid. The messages taken meanwhile are reconciliation's: it asks the carrier. Given up after the
        reconciliation window, or when the worker stops."""
        loop = asyncio.get_running_loop()
        give_up, delay, held = loop.time() + self.services.settings.reconcile_window, 0.5, claim_until
        while not self._stopping.is_set() and loop.time() < give_up:
            await asyncio.sleep(delay)
            try:
                renewed = self.services.clock.now() + timedelta(seconds=CLAIM_SECONDS)
                async with self.services.db.session() as session:
                    messages = _messages.c
                    taken = await session.execute(
                        update(_messages)
                        .where(
                            messages.id.in_([o.message_id for o in outcomes]),
                            messages.status == MessageStatus.SENDING,
                            messages.claimed_by == self.services.worker_id,
                            messages.claim_until == held,
                        )
                        .values(claim_until=renewed)
                        .returning(messages.id)
                    )
                    ours = set(taken.scalars().all())
                held, outcomes = renewed, [o for o in outcomes if o.message_id in ours]
                if outcomes:
                    await self._record(outcomes, loop.time() + CLAIM_SECONDS)
                    log.info("sender: %d outcomes recorded once the database was back", len(outcomes))
                self.services.wakeups.poke_campaigns()
                return
            except Exception as exc:
                log.warning("sender: cannot record %d outcomes yet (%s); retrying", len(outcomes), exc)
                delay = min(delay * 2, 5.0)

    async def _gate(self, session: AsyncSession, rows: list, now) -> tuple[list[Ready], list]:
        """Apply the send gate to claimed rows; store blocks and deferrals. Returns what may be sent now, each
        with whether its status changes have side effects (see `needs_side_effects`), and the rows that may be
        sent once their files shared in Slack are downloaded."""
        decisions = await gate.check_many(
            session, rows, config=self.services.settings.compliance, policy=self._policy, now=now
        )
        await self._hold_back(session, [row.id for row in rows if not decisions[row.id].allowed], decisions)
        allowed = [row for row in rows if decisions[row.id].allowed]
        ready = [self._ready(row, row.media) for row in allowed if not has_slack_files(row.media)]
        return ready, [row for row in allowed if has_slack_files(row.media)]

    def _ready(self, row, media: list) -> Ready:
        callback = self.services.carrier_for(row.line_id).status_callback(self.services.settings.public_url, row.id)
        return (
            row.id,
            self._outbound(row, media, callback),
            needs_side_effects(self.services, row.slack_channel, row.origin),
            row.next_attempt_at or row.created_at,
        )

    async def _hold_back(self, session: AsyncSession, held: list[int], decisions: dict[int, gate.Decision]) -> None:
        """Store blocks and deferrals."""
        if not held:
            return
        for message in await session.scalars(select(Message).where(Message.id.in_(held))):
            decision = decisions[message.id]
            message.attempts -= 1  # never offered to the carrier
            message.claim_until = None
            if decision.action == "block":
                message.status, message.error_message = MessageStatus.BLOCKED, decision.reason
                await notify_blocked(session, self.services, message)
                log.info("sender: message %s to %s blocked: %s", message.id, mask(message.phone), decision.reason)
            else:
                message.status, message.next_attempt_at = MessageStatus.QUEUED, decision.until
                message.error_message = f"deferred: {decision.reason}"

    async def _send_with_slack_files(self, batch: Claim) -> None:
        """Download the files shared in Slack of the batch's messages, with no transaction open (a download
        may take up to 30 s), then store them with their messages, in one transaction, for the messages whose
        claim still stands, and send those. Failed downloads are recorded as failed sends (retried later when
        a retry may help); a message whose claim lapsed meanwhile is left to whoever holds it now."""
        fetched = dict(
            zip(
                (row.id for row in batch.with_files),
                await asyncio.gather(*(self._fetch(row) for row in batch.with_files)),
                strict=True,
            )
        )
        ready, failures = [], []
        async with self.services.db.session() as session:
            ours = await session.scalars(
                select(Message)
                .where(
                    Message.id.in_(fetched),
                    Message.status == MessageStatus.SENDING,
                    Message.claim_until == batch.until,
                )
                .with_for_update()
            )
            rows = {row.id: row for row in batch.with_files}
            for message in ours:
                result = fetched.pop(message.id)
                if isinstance(result, CarrierError):
                    failures.append(Outcome(message.id, error=result))
                else:
                    message.media = await store_slack_files(session, message.media, result)
                    ready.append(self._ready(rows[message.id], message.media))
        if fetched:
            log.warning("sender: messages %s were no longer ours once their files were downloaded", sorted(fetched))
        if failures:
            await self._record_while_ours(failures, batch.ends, batch.until)
        if ready:
            await self.send_batch(ready, batch.ends, batch.until)

    async def _fetch(self, row) -> list[bytes] | CarrierError:
        """The files shared in Slack of one message, or why they cannot be had (as the sender's outcomes say it)."""
        try:
            return await fetch_slack_files(self.services, row.media)
        except ValueError as exc:  # not a Slack file host, or larger than an MMS may carry
            return PermanentCarrierError(f"the file shared in Slack cannot be sent: {exc}")
        except aiohttp.ClientResponseError as exc:
            if 400 <= exc.status < 500 and exc.status != 429:
                return PermanentCarrierError(f"the file shared in Slack cannot be downloaded (HTTP {exc.status})")
            return TransientCarrierError(f"cannot download the file shared in Slack yet (HTTP {exc.status})")
        except (TimeoutError, aiohttp.ClientError) as exc:
            return TransientCarrierError(f"cannot download the file shared in Slack yet ({type(exc).__name__})")

    def _outbound(self, row, media: list, status_callback: str) -> OutboundSMS:
        return OutboundSMS(
            to=row.phone,
            sender=self.services.lines.get(row.line_id).config.key,
            body=row.body,
            media_urls=self._media_urls(media),
            status_callback=status_callback,
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

    def _carrier(self, sms: OutboundSMS) -> Carrier:
        """The carrier of the line that sends as `sms.sender`."""
        line = self.services.lines.by_key(sms.sender)
        return self.services.carrier_for(line.id if line is not None else None)

    async def _call_carrier(
        self, message_id: int, sms: OutboundSMS, side_effects: bool, due: datetime, claim_ends: float
    ) -> Outcome:
        rate = self._rate(sms.sender)
        while True:
            # The slot is awaited before a connection is taken: waiting for one's slot holds no carrier call.
            try:
                slot = await rate.acquire()
            except Exception as exc:  # noqa: BLE001 - the shared rate lives in the database, which may be away
                # Never offered: queued again at once, rather than left to reconciliation, which cannot tell a
                # text never offered from one the carrier has not listed yet and would hold it for its window.
                log.warning("sender: message %s not sent: no slot of its line's rate (%s)", message_id, exc)
                return Outcome(message_id, abandoned=True)
            must_wait = self._carrier_calls.empty()
            token = await self._carrier_calls.get()
            try:
                # All connections were busy past the slot: another one, if one is due now (the line has room to
                # spare); if not, the connection goes back while we wait for the next.
                if must_wait and not rate.still_in_time(slot) and rate.take_due() is None:
                    continue
                if asyncio.get_running_loop().time() > claim_ends - LAST_CALL_BEFORE_LAPSE:
                    log.warning(
                        "sender: message %s not sent: its claim is about to lapse; it will be reconciled", message_id
                    )
                    return Outcome(message_id, abandoned=True)
                return await self._offer(message_id, sms, side_effects, due)
            finally:
                self._carrier_calls.put_nowait(token)

    async def _offer(self, message_id: int, sms: OutboundSMS, side_effects: bool, due: datetime) -> Outcome:
        """The carrier call itself, counted and timed (bot.metrics)."""
        carrier, metrics = self._carrier(sms), self.services.metrics
        started = time.perf_counter()
        try:
            outcome = Outcome(message_id, result=await carrier.send(sms), side_effects=side_effects)
        except CarrierError as exc:
            outcome = Outcome(message_id, error=exc, side_effects=side_effects)
        metrics.carrier_call.labels(carrier.name).observe(time.perf_counter() - started)
        error = outcome.error
        if error is None:
            metrics.send_lag.observe(max((self.services.clock.now() - due).total_seconds(), 0.0))
        code = "" if error is None or error.code is None else str(error.code)
        metrics.texts_out.labels(sms.sender, carrier.name, _outcome_name(error), code).inc()
        return outcome

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
                    .where(
                        _messages.c.id.in_(abandoned),
                        MESSAGE_FLOW.where(_messages.c.status, MessageStatus.SENDING, MessageStatus.QUEUED),
                    )
                    .values(
                        status=MessageStatus.QUEUED,
                        claim_until=None,
                        claimed_by=None,
                        next_attempt_at=now,
                        attempts=_messages.c.attempts - 1,
                    )
                )
            if plain:
                await update_rows(
                    session,
                    _messages,
                    [{"id": o.message_id, "carrier_sid": o.result.carrier_sid} for o in plain if o.result is not None],
                    status=MessageStatus.SENT,
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
                    elif outcome.error is not None:
                        message.status, message.error_code = MessageStatus.FAILED, outcome.error.code
                        message.error_message, message.claim_until = str(outcome.error), None
                        await after_failure(session, self.services, message)
            # A plain success's receipt that came before this record is applied by the sender's sweep
            # (apply_late_receipts, every second): looking for one here would cost a query per batch.
            await apply_stored_statuses(session, self.services, sent)

    async def _sent(self, session: AsyncSession, message: Message, result: SendResult, now) -> None:
        message.status, message.carrier_sid = MessageStatus.SENT, result.carrier_sid
        message.sent_at, message.claim_until = now, None
        message.error_code = message.error_message = None
        if result.segments:
            message.segments = result.segments
        await after_send(session, self.services, message)

    async def _retry(self, session: AsyncSession, message: Message, error: CarrierError, now) -> None:
        if message.attempts >= MAX_TRANSIENT_ATTEMPTS:
            message.status, message.error_code, message.claim_until = MessageStatus.FAILED, error.code, None
            message.error_message = f"gave up after {message.attempts} attempts: {error}"
            await after_failure(session, self.services, message)
            return
        delay = error.retry_after or min(MAX_BACKOFF, 2**message.attempts)
        message.status, message.claim_until = MessageStatus.QUEUED, None
        message.next_attempt_at = now + timedelta(seconds=delay)
        message.error_message = f"retrying: {error}"
        log.info("sender: message %s retried in %.0fs: %s", message.id, delay, error)


def _outcome_name(error: CarrierError | None) -> str:
    """How `sms_bridge_texts_out` names what the carrier made of a send."""
    if error is None:
        return "sent"
    if isinstance(error, AmbiguousCarrierError):
        return "unknown"
    if isinstance(error, TransientCarrierError):
        return "retried"
    return "failed"
