"""Opt-outs that text their one confirmation: by a person in Slack (`/sms optout`, the thread's buttons), by a
decision on a stop request in plain words, and by the due-time scan of requests nobody decided.

The rule (record once, none for a number already opted out) is `bot.compliance.optout`; this module texts the
confirmation (purpose "compliance", so it goes out after the opt-out) and tells the number's threads.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compliance import optout, requests, views
from bot.compliance.ledger import MAX_EVIDENCE, Where, refresh_cards
from bot.lines import KnownLine
from bot.messaging.outbound import queue_sms
from bot.phone import is_phone_number
from bot.services import Services
from bot.slack import outbox
from storage.models import ConsentEvent, ConsentRequest, Conversation, Message
from storage.states import ConsentRequestStatus

SCAN_SECONDS = 60.0  # how often the due-time scan of stop requests runs


async def queue_confirmation(
    session: AsyncSession, *, line: KnownLine | None, phone: str, event: ConsentEvent, conversation_id: int | None
) -> Message | None:
    """Queue the one confirmation of a recorded opt-out, from `line` (None, or a number that is not a phone
    number: nothing to text). Idempotent per ledger event."""
    if line is None or not is_phone_number(phone):
        return None
    return await queue_sms(
        session,
        line=line,
        phone=phone,
        body=optout.confirmation_text(line, every_line=event.line_id is None),
        origin="system",
        purpose="compliance",
        origin_ref="opt_out",
        conversation_id=conversation_id,
        dedupe_key=f"opt-out-confirmation:{event.id}",
        slack_channel=line.config.channel,
    )


async def _confirm_line(session: AsyncSession, services: Services, phone: str, where: Where) -> KnownLine | None:
    """The line an opt-out's confirmation is texted from: the command's line, else the line of the number's most
    recently active conversation (None: the number never talked to any line, so nothing is texted)."""
    if where.line is not None:
        return where.line
    line_id = await session.scalar(
        select(Conversation.line_id)
        .where(Conversation.phone == phone)
        .order_by(Conversation.last_activity_at.desc())
        .limit(1)
    )
    return services.lines.by_id(line_id) if line_id is not None else None


async def opt_out_by_hand(services: Services, *, user: str, phone: str, where: Where, reason: str) -> bool:
    """`/sms optout`: record an opt-out (scope all), with the reason given, and text the number its one
    confirmation. False when the number was already opted out there: nothing is recorded or texted."""
    reason = reason[:MAX_EVIDENCE]
    evidence = f"opted out by <@{user}> with /sms optout" + (f": {reason}" if reason else "")
    async with services.db.session() as session:
        event = await optout.record_opt_out(
            session,
            phone=phone,
            line_id=where.line_id,
            source="slack",
            evidence=evidence,
            actor=user,
            now=services.clock.now(),
        )
        if event is None:
            return False
        line = await _confirm_line(session, services, phone, where)
        conversation_id = None
        if line is not None:
            conversation_id = await session.scalar(
                select(Conversation.id).where(Conversation.line_id == line.id, Conversation.phone == phone)
            )
        confirmation = await queue_confirmation(
            session, line=line, phone=phone, event=event, conversation_id=conversation_id
        )
        await refresh_cards(session, phone, where, views.opted_out_note(user, reason, confirmation is not None))
    services.wakeups.poke_outbox()
    services.wakeups.poke_sender()
    return True


async def decide_stop_request(services: Services, *, request_id: int, user: str, confirm: bool, channel: str) -> str:
    """A person's decision on a stop request in plain words, from its thread in the line's channel: *Confirm
    opt-out* (records it and texts the one confirmation) or *Not an opt-out* (lifts the hold). Returns the
    answer for that person."""
    now = services.clock.now()
    async with services.db.session() as session:
        request = await session.get(ConsentRequest, request_id)
        if request is None or request.kind != requests.STOP:
            return f":warning: There is no stop request {request_id}. Nothing was changed."
        line = services.lines.by_id(request.line_id)
        if line is None or line.config.channel != channel:
            return ":warning: That stop request belongs to another line's channel. Nothing was changed."
        if request.status != ConsentRequestStatus.PENDING:
            by = f" by <@{request.decided_by}>" if request.decided_by else ""
            return f"That request was already decided{by} ({request.status}). Nothing was changed."
        if not await requests.decide(
            session,
            request.id,
            ConsentRequestStatus.CONFIRMED if confirm else ConsentRequestStatus.DISMISSED,
            by=user,
            at=now,
        ):
            return "That request was already decided. Nothing was changed."
        if confirm:
            text = await _confirm_request(session, services, request, user=user, now=now)
        else:
            await _note(session, request, views.stop_request_dismissed_note(user))
            text = f"Not an opt-out: the hold on marketing to {request.phone} is lifted."
    services.wakeups.poke_outbox()
    services.wakeups.poke_sender()
    return text


async def confirm_due(services: Services) -> int:
    """The periodic scan: confirm every stop request nobody decided before its due time. Each request is taken
    with a conditional UPDATE of its status, so replicas scanning together confirm it once."""
    now = services.clock.now()
    async with services.db.session() as session:
        due = [request.id for request in await requests.due(session, now)]
    done = 0
    for request_id in due:
        async with services.db.session() as session:
            if not await requests.decide(session, request_id, ConsentRequestStatus.CONFIRMED, by=None, at=now):
                continue  # decided meanwhile, here or by another replica
            request = await session.get(ConsentRequest, request_id)
            if request is not None:
                await _confirm_request(session, services, request, user=None, now=now)
                done += 1
    if done:
        services.wakeups.poke_outbox()
        services.wakeups.poke_sender()
    return done


async def _confirm_request(
    session: AsyncSession, services: Services, request: ConsentRequest, *, user: str | None, now: datetime
) -> str:
    """Record the opt-out a stop request (already taken as confirmed) asked for, and text its confirmation."""
    line = services.lines.by_id(request.line_id)
    asked = await session.get(Message, request.message_id) if request.message_id else None
    quoted = f"asked {asked.body.strip()!r} (message {asked.carrier_sid})" if asked else "asked to stop in words"
    how = f"confirmed by <@{user}>" if user else "confirmed automatically at its due time (before 10 business days)"
    event = await optout.record_opt_out(
        session,
        phone=request.phone,
        line_id=request.line_id,
        source="request",
        evidence=f"stop request: {quoted}; {how}",
        actor=user,
        now=now,
        message_id=request.message_id,
    )
    if event is None:  # opted out since (a STOP): nothing more to record or text
        await _note(session, request, views.stop_request_confirmed_note(user, False))
        return f"{request.phone} was already opted out of this line; nothing more was texted."
    confirmation = await queue_confirmation(
        session, line=line, phone=request.phone, event=event, conversation_id=request.conversation_id
    )
    await _note(session, request, views.stop_request_confirmed_note(user, confirmation is not None))
    return f"{request.phone} is opted out of this line" + ("; a confirmation was texted." if confirmation else ".")


async def _note(session: AsyncSession, request: ConsentRequest, text: str) -> None:
    conversation = await session.get(Conversation, request.conversation_id) if request.conversation_id else None
    if conversation is None:
        return
    await outbox.enqueue(session, channel=conversation.channel, op="update_card", conversation_id=conversation.id)
    await outbox.enqueue(
        session, channel=conversation.channel, op="post", conversation_id=conversation.id, payload={"text": text}
    )
