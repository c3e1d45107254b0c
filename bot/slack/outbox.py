"""The durable Slack outbox: every post, update and reaction the bot owes Slack is a row first.

A worker performs the rows of each channel strictly in id order, paced to Slack's per-channel limit,
honouring 429 Retry-After, retrying transient failures with capped backoff for as long as Slack is away.
Posts carry their outbox id as message metadata, so a post whose outcome is unknown (a crash or a timeout
mid-call) is looked up in the channel before it is tried again: it is never posted twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.liveness import gone_among
from bot.ratelimit import SharedRate
from bot.services import Services
from bot.slack.format import section_pieces
from storage.db import get_row
from storage.models import SlackOutbox
from storage.states import OutboxStatus

log = logging.getLogger(__name__)

POST_OPS = ("post_root", "post")
METADATA_EVENT = "sms_bridge_post"
TRANSIENT_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
}
IDEMPOTENT_ERRORS = {"already_reacted", "no_reaction", "message_not_found"}
LEASE_SECONDS = 20  # longer than one Slack call may take (the client times out at 10 s)
STOP_GRACE_SECONDS = 5.0
MAX_BACKOFF = 60.0
MAX_COALESCED = 200  # customer texts in one Slack post at most
SECTION_LIMIT = 2900  # characters in one section block (Slack allows 3,000)
MAX_POST_BLOCKS = 50  # blocks in one message, as Slack allows

# The statements run for every row, built once and executed with their values (building them cost more CPU than
# running them; see storage.bulk.among_bound).
_HEADS = (
    select(SlackOutbox.channel, func.min(SlackOutbox.id).label("head"))
    .where(SlackOutbox.status == OutboxStatus.PENDING)
    .group_by(SlackOutbox.channel)
    .subquery()
)
_DUE_HEADS = (
    select(SlackOutbox.channel, SlackOutbox.claim_until, SlackOutbox.claimed_by)
    .join(_HEADS, SlackOutbox.id == _HEADS.c.head)
    .where(SlackOutbox.next_attempt_at <= bindparam("now"))
)
_CLAIM_HEAD = (
    update(SlackOutbox)
    .where(
        SlackOutbox.id
        == select(func.min(SlackOutbox.id))
        .where(SlackOutbox.channel == bindparam("of_channel"), SlackOutbox.status == OutboxStatus.PENDING)
        .scalar_subquery(),
        SlackOutbox.status == OutboxStatus.PENDING,
        SlackOutbox.next_attempt_at <= bindparam("now"),
        SlackOutbox.claim_until.is_(None)
        | (SlackOutbox.claim_until < bindparam("now"))
        | SlackOutbox.claimed_by.in_(bindparam("gone", expanding=True)),
    )
    .values(claim_until=bindparam("until"), claimed_by=bindparam("worker"))
    .returning(SlackOutbox)
)
_DONE = (
    update(SlackOutbox)
    .where(SlackOutbox.id == bindparam("row_id"))
    .values(
        status=OutboxStatus.DONE,
        result_ts=bindparam("answer_ts"),
        claim_until=None,
        attempt_started_at=None,
        attempts=SlackOutbox.attempts + 1,
    )
)


async def enqueue(
    session: AsyncSession,
    *,
    channel: str,
    op: str,
    payload: dict | None = None,
    conversation_id: int | None = None,
    message_id: int | None = None,
    flush: bool = True,
) -> SlackOutbox:
    """Add a Slack call to the outbox in the caller's transaction (it happens only if that commits). With
    `flush=False` the row is written with the transaction's next flush (rows added together share one INSERT)."""
    row = SlackOutbox(
        channel=channel, op=op, payload=payload or {}, conversation_id=conversation_id, message_id=message_id
    )
    session.add(row)
    if flush:
        await session.flush()
    return row


class Retry(Exception):
    """Try the row again after `delay` seconds."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


@dataclass
class OpResult:
    ts: str | None = None


class Op(Protocol):
    """How one kind of outbox row is carried out. `perform` makes the Slack call (holding no transaction
    open meanwhile); `record` stores what came of it, in the transaction that marks the row done."""

    async def perform(self, services: Services, row: SlackOutbox) -> OpResult: ...

    async def record(self, session: AsyncSession, row: SlackOutbox, result: OpResult) -> None: ...

    async def thread_of(self, services: Services, row: SlackOutbox) -> str | None:
        """For posts: the thread the post goes to (None for a channel-level post)."""


class OutboxWorker:
    """Drains the outbox: one task per channel with due rows, rows of a channel strictly in order."""

    def __init__(self, services: Services, ops: dict[str, Op], *, post_interval: float = 1.1) -> None:
        self.services = services
        self.ops = ops
        self.post_interval = post_interval
        self._channels: dict[str, asyncio.Task] = {}
        self._rates: dict[str, SharedRate] = {}
        self._stopping = asyncio.Event()
        self._gone: set[str] = set()  # holders of claimed heads found gone at the last look (see _due_channels)

    async def run(self) -> None:
        """Loop until `stop()`: find channels with due rows, drain each in its own task."""
        wake = self.services.wakeups.outbox
        while not self._stopping.is_set():
            wake.clear()
            try:
                for channel in await self._due_channels():
                    task = self._channels.get(channel)
                    if task is None or task.done():
                        self._channels[channel] = asyncio.create_task(self._drain(channel))
            except Exception:  # the database may be briefly away; keep the worker alive and try again
                log.exception("outbox: cannot read pending rows")
            try:
                await asyncio.wait_for(wake.wait(), timeout=0.5)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        """Let each channel finish the call in flight (so no claim is left behind), then stop."""
        self._stopping.set()
        self.services.wakeups.poke_outbox()
        tasks = [task for task in self._channels.values() if not task.done()]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _due_channels(self) -> list[str]:
        """Channels whose head row is due and free: unclaimed, its claim lapsed, or its holder a process of this
        host that is gone (bot.liveness), whose rows are taken at once."""
        now = self.services.clock.now()
        async with self.services.db.session() as session:
            rows = (await session.execute(_DUE_HEADS, {"now": now})).all()
        held = [row.claimed_by for row in rows if row.claim_until is not None and row.claim_until >= now]
        self._gone = await gone_among(holder for holder in held if holder != self.services.worker_id)
        return [
            row.channel
            for row in rows
            if row.claim_until is None or row.claim_until < now or row.claimed_by in self._gone
        ]

    async def _drain(self, channel: str) -> None:
        """Perform the channel's due rows in order. Any failure (typically the database going away) ends the
        drain, after the row is given back, and `run` starts the channel again once rows can be read."""
        while not self._stopping.is_set():
            try:
                row = await self._claim_head(channel)
            except Exception as exc:  # noqa: BLE001 - nothing claimed, nothing to give back
                log.warning("outbox: cannot claim the next row of %s: %s", channel, exc)
                return
            if row is None:
                return
            leased_until = asyncio.get_running_loop().time() + LEASE_SECONDS
            try:
                if row.op == "post" and (row.payload or {}).get("inbound") and row.attempt_started_at is None:
                    row = await self._coalesce(row)
                if row.op in POST_OPS:
                    await self._pace(channel)
                await self._perform(row)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox: row %s (%s) failed unexpectedly", row.id, row.op)
                await self._give_back(row, leased_until)
                return

    async def _give_back(self, row: SlackOutbox, leased_until: float) -> None:
        """Reschedule a row whose handling failed, retrying while the database is away, so the row is tried
        again as soon as it is back rather than when its lease lapses. Past our lease it is no longer ours to
        touch (another replica may hold it); it is then left to lapse."""
        loop, delay = asyncio.get_running_loop(), 0.2
        while not self._stopping.is_set():
            try:
                await self._reschedule(row, "unexpected error", None)
                return
            except Exception as exc:  # noqa: BLE001 - the database is still away: try again shortly
                if loop.time() + delay >= leased_until - 1:
                    log.warning("outbox: row %s not rescheduled (%s); it is retried when its lease lapses", row.id, exc)
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _claim_head(self, channel: str) -> SlackOutbox | None:
        """Claim the channel's first pending row, if it is due and free: one statement."""
        now = self.services.clock.now()
        values = {
            "of_channel": channel,
            "now": now,
            "gone": list(self._gone),
            "until": now + timedelta(seconds=LEASE_SECONDS),
            "worker": self.services.worker_id,
        }
        async with self.services.db.session() as session:
            return await session.scalar(_CLAIM_HEAD, values, execution_options={"populate_existing": True})

    async def _coalesce(self, head: SlackOutbox) -> SlackOutbox:
        """Fold the customer texts waiting behind `head` in the same thread into one post.

        Only texts already waiting are folded, so this happens exactly when texts arrive faster than Slack
        takes posts for the channel: each thread catches up in one post instead of falling further behind.
        Rows of other threads are passed over (their order among themselves is kept); within the thread,
        folding stops at the first row that is not a customer text or a card refresh, so the thread's
        own order never changes. Card refreshes are folded too and done once, after the post.
        """
        async with self.services.db.session() as session:
            waiting = (
                await session.scalars(
                    select(SlackOutbox)
                    .where(
                        SlackOutbox.channel == head.channel,
                        SlackOutbox.status == OutboxStatus.PENDING,
                        SlackOutbox.conversation_id == head.conversation_id,
                        SlackOutbox.id > head.id,
                    )
                    .order_by(SlackOutbox.id)
                    .limit(MAX_COALESCED * 3)
                )
            ).all()
            texts: list[SlackOutbox] = []
            folded: list[SlackOutbox] = []
            card = False
            for row in waiting:
                if row.claim_until is not None:
                    break
                if row.op == "update_card":
                    card = True
                elif row.op == "post" and (row.payload or {}).get("inbound") and len(texts) < MAX_COALESCED - 1:
                    texts.append(row)
                else:
                    break
                folded.append(row)
            if not texts:
                return head
            fresh = await get_row(session, SlackOutbox, head.id)
            blocks, used = folded_blocks([fresh.payload] + [row.payload for row in texts])
            if used == 1:
                return head
            if used - 1 < len(texts):  # the rest do not fit in one message: they wait for the next post
                texts = texts[: used - 1]
                folded = folded[: folded.index(texts[-1]) + 1]
                card = any(row.op == "update_card" for row in folded)
            payloads = [fresh.payload] + [row.payload for row in texts]
            fresh.payload = {
                "inbound": True,
                "text": "\n".join(p.get("text", "") for p in payloads)[:39000],
                "blocks": blocks,
                "message_ids": [fresh.message_id] + [row.message_id for row in texts],
            }
            for row in folded:
                row.status, row.last_error = OutboxStatus.DONE, f"folded into outbox row {fresh.id}"
            if card:
                await enqueue(session, channel=fresh.channel, op="update_card", conversation_id=fresh.conversation_id)
        log.info("outbox: %d customer texts folded into one post (row %s)", len(texts) + 1, head.id)
        return fresh

    async def _pace(self, channel: str) -> None:
        """Slack's per-channel post rate, held across replicas."""
        if self.post_interval <= 0:
            return
        if channel not in self._rates:
            self._rates[channel] = SharedRate(
                self.services.db, self.services.clock, f"slack:{channel}", 1.0 / self.post_interval, late_tolerance=None
            )
        await self._rates[channel].acquire()

    async def _perform(self, row: SlackOutbox) -> None:
        op = self.ops.get(row.op)
        if op is None:
            await self._finish(row, status=OutboxStatus.FAILED, error=f"unknown outbox op {row.op!r}")
            return
        if row.op in POST_OPS and row.attempt_started_at is not None:
            found = await self._find_earlier_post(op, row)
            if found:
                await self._complete(op, row, OpResult(ts=found))
                return
        if row.op in POST_OPS:  # only a post can be looked for if we lose track of it (_find_earlier_post)
            await self._mark_started(row)
        started = time.perf_counter()
        try:
            result = await op.perform(self.services, row)
        except SlackApiError as exc:
            await self._on_slack_error(row, exc)
            return
        except Retry as exc:
            await self._reschedule(row, str(exc), exc.delay)
            return
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            await self._reschedule(row, f"Slack unreachable: {type(exc).__name__}", None)
            return
        finally:
            self.services.metrics.slack_call.labels(row.op).observe(time.perf_counter() - started)
        await self._complete(op, row, result)

    async def _on_slack_error(self, row: SlackOutbox, exc: SlackApiError) -> None:
        error = slack_error(exc)
        status = exc.response.status_code if exc.response is not None else 0
        if status == 429 or error == "ratelimited":
            retry_after = float(exc.response.headers.get("Retry-After", exc.response.headers.get("retry-after", 1)))
            await self._reschedule(row, "rate limited by Slack", retry_after, count=False)
        elif status >= 500 or error in TRANSIENT_ERRORS:
            await self._reschedule(row, f"Slack error {error or status}", None)
        elif error in IDEMPOTENT_ERRORS:
            await self._complete(self.ops[row.op], row, OpResult())
        else:
            log.warning("outbox: row %s (%s) refused by Slack: %s", row.id, row.op, error)
            await self._finish(row, status=OutboxStatus.FAILED, error=f"Slack refused: {error}")

    async def _mark_started(self, row: SlackOutbox) -> None:
        async with self.services.db.session() as session:
            await session.execute(
                update(SlackOutbox).where(SlackOutbox.id == row.id).values(attempt_started_at=self.services.clock.now())
            )

    async def _complete(self, op: Op, row: SlackOutbox, result: OpResult) -> None:
        """Record what the call made (`op.record`, from the row as claimed) and mark the row done."""
        async with self.services.db.session() as session:
            await op.record(session, row, result)
            await session.execute(_DONE, {"row_id": row.id, "answer_ts": result.ts})
        lag = (self.services.clock.now() - row.created_at).total_seconds()
        self.services.metrics.outbox_lag.observe(max(lag, 0.0))

    async def _finish(self, row: SlackOutbox, *, status: OutboxStatus, error: str) -> None:
        async with self.services.db.session() as session:
            fresh = await get_row(session, SlackOutbox, row.id)
            fresh.status, fresh.last_error = status, error
            fresh.claim_until = fresh.attempt_started_at = None
            fresh.attempts += 1

    async def _reschedule(self, row: SlackOutbox, reason: str, delay: float | None, *, count: bool = True) -> None:
        async with self.services.db.session() as session:
            fresh = await get_row(session, SlackOutbox, row.id)
            if count:
                fresh.attempts += 1
            backoff = delay if delay is not None else min(MAX_BACKOFF, 0.5 * 2 ** min(fresh.attempts, 8))
            fresh.next_attempt_at = self.services.clock.now() + timedelta(seconds=backoff)
            fresh.claim_until, fresh.last_error = None, reason
            if row.op not in POST_OPS:
                fresh.attempt_started_at = None
        log.info("outbox: row %s (%s) retried in %.1fs: %s", row.id, row.op, backoff, reason)

    async def _find_earlier_post(self, op: Op, row: SlackOutbox) -> str | None:
        """A previous attempt may have posted before we lost track: look for our metadata in the channel."""
        started = row.attempt_started_at or self.services.clock.now()
        oldest = (started - timedelta(seconds=30)).timestamp()
        try:
            thread_ts = await op.thread_of(self.services, row)
            if thread_ts:
                resp = await self.services.slack.conversations_replies(
                    channel=row.channel, ts=thread_ts, oldest=f"{oldest:.6f}", include_all_metadata=True, limit=200
                )
            else:
                resp = await self.services.slack.conversations_history(
                    channel=row.channel, oldest=f"{oldest:.6f}", include_all_metadata=True, limit=200
                )
        except (TimeoutError, SlackApiError, aiohttp.ClientError) as exc:
            log.info("outbox: cannot check for an earlier post of row %s: %s", row.id, exc)
            return None
        messages: list[dict] = resp.get("messages", [])
        for message in messages:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if str(payload.get("outbox_id")) == str(row.id):
                return message.get("ts")
        return None


def folded_blocks(payloads: list[dict]) -> tuple[list[dict], int]:
    """One post for many customer texts: their lines packed into as few sections as Slack allows, any notes
    and buttons kept, the "Customer" line once at the end. Only as many texts as fit in one message are folded
    (Slack takes 50 blocks, 3,000 characters per section): returns the blocks and how many of `payloads` they
    hold (at least one); the rest wait for the next post."""
    blocks = _fold(payloads[:1])
    used = 1
    while used < len(payloads):
        more = _fold(payloads[: used + 1])
        if len(more) > MAX_POST_BLOCKS:
            break
        blocks, used = more, used + 1
    return blocks, used


def _fold(payloads: list[dict]) -> list[dict]:
    lines: list[str] = []
    extras: list[dict] = []
    footer = None
    for payload in payloads:
        for block in payload.get("blocks", []):
            if block.get("type") == "section":
                lines += section_pieces(block["text"]["text"])
            elif block.get("type") == "context" and block.get("block_id") == "customer":
                footer = block
            else:
                extras.append(block)
    sections, current = [], ""
    for line in lines:
        if current and len(current) + 1 + len(line) > SECTION_LIMIT:
            sections.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        sections.append(current)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}} for text in sections] + extras
    return blocks + ([footer] if footer else [])


def slack_error(exc: SlackApiError) -> str | None:
    """The `error` field of a failed call, when Slack answered with JSON at all."""
    data = exc.response.data if exc.response is not None else None
    return data.get("error") if isinstance(data, dict) else None


def post_metadata(row: SlackOutbox) -> dict[str, Any]:
    """The metadata every post carries, so an uncertain post can be found again."""
    return {"event_type": METADATA_EVENT, "event_payload": {"outbox_id": row.id}}
