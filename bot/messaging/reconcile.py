"""Reconciliation: settling a send whose outcome is unknown, without ever sending it twice.

The outcome of a send is unknown when the carrier's answer was lost (no answer, connection dropped, timeout) or
when the process that made the call died. Such a message stays `sending`: it is not decided at once. Over a
bounded window from its claim (`Settings.reconcile_window`, 5 minutes by default) it is settled by the first of
- a status callback naming it (its URL carries the bridge's message id; see bot.messaging.status.record_status),
- the carrier's own records: every message it took to that number, sent or still queued (`Carrier.find_sent`),
looked at again and again, with backoff. Only a message still absent when the window is over is queued to be sent
again. docs/reconciliation.md says what this guarantees and where its edge lies.

A crashed sender's messages are reconciled once its claim lapses, or at once when a process of the same host can
tell that it is gone (bot.liveness).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.carriers.base import SentRecord
from bot.liveness import gone_among
from bot.messaging.status import apply_stored_statuses, settle_sent
from bot.services import Services
from storage.db import changed
from storage.models import Message, StatusEvent
from storage.states import MessageStatus

log = logging.getLogger(__name__)

CLAIM_SECONDS = 30  # a look holds the message this long (as a sender's claim does)
FIRST_PAUSE, MAX_PAUSE = 1.0, 60.0  # between looks: the time since the claim, within these bounds
CLOCK_SKEW = timedelta(minutes=5)  # the carrier's clock against ours, when its records are read back to the claim
AT_ONCE = 20  # messages reconciled concurrently
BATCH = 200  # messages taken per pass
TERMINAL = ("delivered", "undelivered", "failed")  # a listed status worth applying at once


async def mark_unknown(session: AsyncSession, message_ids: list[int], claimed_at: datetime, now: datetime) -> None:
    """The carrier's answer to these sends was lost: look for them shortly (each is still `sending`)."""
    await session.execute(
        update(Message)
        .where(Message.id.in_(message_ids), Message.status == MessageStatus.SENDING)
        .values(outcome_unknown_since=claimed_at, claim_until=now + timedelta(seconds=FIRST_PAUSE), claimed_by=None)
    )


async def recover(services: Services) -> None:
    """Reconcile the messages left `sending` whose claim has lapsed or whose holder is gone."""
    now = services.clock.now()
    async with services.db.session() as session:
        holders = (
            await session.scalars(
                select(Message.claimed_by)
                .where(
                    Message.status == MessageStatus.SENDING, Message.claim_until >= now, Message.claimed_by.is_not(None)
                )
                .where(Message.claimed_by != services.worker_id)
                .distinct()
            )
        ).all()
        gone = await gone_among(holders)
        due: ColumnElement[bool] = or_(Message.claim_until.is_(None), Message.claim_until < now)
        if gone:
            due = or_(due, Message.claimed_by.in_(gone))
        stale = list(
            (
                await session.scalars(
                    select(Message.id)
                    .where(and_(Message.status == MessageStatus.SENDING, due))
                    .order_by(Message.id)
                    .limit(BATCH)
                )
            ).all()
        )
    for start in range(0, len(stale), AT_ONCE):
        part = stale[start : start + AT_ONCE]
        results = await asyncio.gather(
            *(reconcile(services, message_id, gone) for message_id in part), return_exceptions=True
        )
        for message_id, result in zip(part, results, strict=True):
            if isinstance(result, Exception):  # left held: looked at again once the hold lapses
                log.error("reconcile: the look at message %s failed", message_id, exc_info=result)


async def reconcile(services: Services, message_id: int, gone: Collection[str] = frozenset()) -> None:
    """One look at one message whose outcome is unknown: settle it, queue it again, or look again later."""
    taken = await _take(services, message_id, gone)
    if taken is None:
        return
    message, held_until, since, carrier_sid = taken
    records: list[SentRecord] | None = []
    looked_at: datetime | None = None
    if carrier_sid is None:
        looked_at = services.clock.now()  # what the carrier listed from this moment on
        records = await _carrier_records(services, message, since - CLOCK_SKEW)
    match = None if records is None else await _unclaimed_match(services, message, records, since - CLOCK_SKEW)
    if match is not None:
        carrier_sid = match.carrier_sid
    requeued = await _decide(
        services, message_id, held_until, carrier_sid, match, looked_at=looked_at if records is not None else None
    )
    if requeued:
        services.wakeups.poke_sender()


async def _take(
    services: Services, message_id: int, gone: Collection[str]
) -> tuple[Message, datetime, datetime, str | None] | None:
    """Hold a message for one look (a conditional update, so one replica looks at a time). Returns the message as
    it was, until when it is ours, the start of its window and the MessageSid of a receipt that named it; None when
    it is not ours."""
    now = services.clock.now()
    async with services.db.session() as session:
        message = await session.get(Message, message_id)
        if message is None or message.status != MessageStatus.SENDING:
            return None
        lapsed = message.claim_until is None or message.claim_until < now
        if not lapsed and message.claimed_by not in gone:
            return None
        if message.outcome_unknown_since is None:  # its sender died: the claim's start opens the window
            claimed = message.claim_until - timedelta(seconds=CLAIM_SECONDS) if message.claim_until else now
            message_started = min(claimed, now)
        else:
            message_started = message.outcome_unknown_since
        held_until = now + timedelta(seconds=CLAIM_SECONDS)
        took = await session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status == MessageStatus.SENDING)
            .where(_same(Message.claim_until, message.claim_until), _same(Message.claimed_by, message.claimed_by))
            .values(claim_until=held_until, claimed_by=services.worker_id, outcome_unknown_since=message_started)
        )
        if changed(took) != 1:
            return None
        message.outcome_unknown_since = message_started
        session.expunge(message)
        receipt = await _receipt_for(session, message_id)
    return message, held_until, message_started, receipt


def _same(column: InstrumentedAttribute[Any], value: object) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


async def _receipt_for(session: AsyncSession, message_id: int) -> str | None:
    """The MessageSid of a status callback that named this message, if one came (and names no other message)."""
    return await session.scalar(
        select(StatusEvent.carrier_sid)
        .where(StatusEvent.message_id == message_id)
        .where(~select(Message.id).where(Message.carrier_sid == StatusEvent.carrier_sid).exists())
        .order_by(StatusEvent.id)
        .limit(1)
    )


async def _carrier_records(services: Services, message: Message, since: datetime) -> list[SentRecord] | None:
    """What the carrier took to this number since `since`; None while the carrier cannot be asked."""
    sender_key = services.lines.get(message.line_id).config.key
    try:
        return await services.carrier_for(message.line_id).find_sent(to=message.phone, sender=sender_key, since=since)
    except Exception as exc:  # noqa: BLE001 - the carrier may be away: look again later, never decide blind
        log.warning("reconcile: cannot look at the carrier for message %s yet: %s", message.id, exc)
        return None


async def _unclaimed_match(
    services: Services, message: Message, records: list[SentRecord], since: datetime
) -> SentRecord | None:
    """The oldest record of this text that no other message of ours has claimed."""
    candidates = [r for r in records if r.body == message.body and (r.created_at is None or r.created_at >= since)]
    if not candidates:
        return None
    async with services.db.session() as session:
        known = set(
            (
                await session.scalars(
                    select(Message.carrier_sid).where(Message.carrier_sid.in_([r.carrier_sid for r in candidates]))
                )
            ).all()
        )
    return next((r for r in reversed(candidates) if r.carrier_sid not in known), None)


async def _decide(
    services: Services,
    message_id: int,
    held_until: datetime,
    carrier_sid: str | None,
    match: SentRecord | None,
    *,
    looked_at: datetime | None,
) -> bool:
    """Settle the message, queue it again or plan the next look, while it is still ours. True when queued.
    `looked_at`: when the carrier's records this look read were asked for (None: they could not be read)."""
    now = services.clock.now()
    async with services.db.session() as session:
        message = await session.get(Message, message_id, with_for_update=True)
        if message is None or message.status != MessageStatus.SENDING or message.claimed_by != services.worker_id:
            return False  # settled meanwhile (a status callback) or taken by another look
        if message.claim_until != held_until:
            return False
        if carrier_sid is not None:
            log.info("reconcile: message %s was taken by the carrier (%s)", message_id, carrier_sid)
            await settle_sent(session, services, message, carrier_sid, now)
            if match is not None and match.status in TERMINAL:
                session.add(
                    StatusEvent(
                        carrier_sid=carrier_sid, status=match.status, error_code=match.error_code, message_id=message_id
                    )
                )
                await session.flush()
            await apply_stored_statuses(session, services, [message])
            return False
        started = message.outcome_unknown_since or now  # set by _take, and kept while the message is ours
        window_end = started + timedelta(seconds=services.settings.reconcile_window)
        if looked_at is not None and looked_at >= window_end:  # a look that began after the window
            log.warning("reconcile: message %s is not at the carrier after the window; sending it again", message_id)
            message.status, message.next_attempt_at = MessageStatus.QUEUED, now
            message.claim_until = message.claimed_by = message.outcome_unknown_since = None
            return True
        elapsed = (now - started).total_seconds()
        pause = min(MAX_PAUSE, max(FIRST_PAUSE, elapsed))
        if now < window_end:
            pause = min(pause, max((window_end - now).total_seconds(), 0.5))
        message.claim_until, message.claimed_by = now + timedelta(seconds=pause), None
        return False
