"""Conversations as inbox items: who owns each, what is resolved, who waits, and what is said when nobody answers.

Every change of status or assignee is a conditional UPDATE of the conversation's row (of two concurrent changes,
one wins) and a row of history (`conversation_events`: who, when) in the same transaction, with the card's
re-render and a note in the thread queued in the Slack outbox beside them. Timed things are due times in the
row: `answer_due_at` (the unanswered-text alert) is taken by the one replica whose UPDATE clears it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.compliance import consent
from bot.compliance.inbound import KeywordOutcome
from bot.conversations import queries, views
from bot.lines import KnownLine
from bot.messaging.outbound import queue_sms
from bot.services import Services
from bot.slack import outbox
from storage.models import Conversation, Message
from storage.states import ConversationStatus

log = logging.getLogger(__name__)

ALERT_SCAN_SECONDS = 1.0
AWAY_EVERY = timedelta(hours=12)  # at most one away text per conversation in this time


async def _post(session: AsyncSession, conversation: Conversation, text: str) -> None:
    await outbox.enqueue(
        session, channel=conversation.channel, op="post", conversation_id=conversation.id, payload={"text": text}
    )


async def _card(session: AsyncSession, conversation: Conversation) -> None:
    await outbox.enqueue(session, channel=conversation.channel, op="update_card", conversation_id=conversation.id)


# -- what customers' texts and agents' answers do ----------------------------------------------------------


async def on_customer_text(
    session: AsyncSession,
    services: Services,
    line: KnownLine,
    conversation: Conversation,
    message: Message,
    outcome: KeywordOutcome,
) -> None:
    """A customer's text (already stored, its thread post queued): reopen, start the wait, answer when closed.

    Keywords are answered by the compliance rules: they neither reopen, nor wait for an agent, nor get the
    away text."""
    if outcome.keyword is not None:
        return
    now = message.created_at
    if conversation.status == ConversationStatus.RESOLVED and await queries.move_status(
        session,
        conversation.id,
        ConversationStatus.RESOLVED,
        ConversationStatus.OPEN,
        opened_at=now,
        answered_in_period=False,
    ):
        await queries.record_event(session, conversation, "reopened", at=now)
        await _post(session, conversation, views.reopened_by_customer())
    minutes = line.config.answer_within_minutes
    due = now + timedelta(minutes=minutes) if minutes else None
    await queries.start_waiting(session, conversation.id, now, due)
    if not outcome.flagged:
        await _away_text(session, line, conversation, message, now)


async def _away_text(
    session: AsyncSession, line: KnownLine, conversation: Conversation, message: Message, now: datetime
) -> None:
    hours, text = line.config.business_hours, line.config.away_text.strip()
    if hours is None or not text or hours.open_at(now):
        return
    if (await consent.current(session, conversation.phone, line.id, "conversational")).opted_out:
        return
    if not await queries.claim_away(session, conversation.id, now, now - AWAY_EVERY):
        return
    reply = await queue_sms(
        session,
        line=line,
        phone=conversation.phone,
        body=text,
        origin="system",
        origin_ref="away",
        conversation_id=conversation.id,
        dedupe_key=f"away:{message.id}",
        slack_channel=conversation.channel,
    )
    if reply is not None:
        await queries.record_event(session, conversation, "away", at=now)
        await _post(session, conversation, views.away_sent(text))


async def on_agent_answer(session: AsyncSession, conversation: Conversation, user: str, now: datetime) -> None:
    """An agent texted the customer: the first to answer an unassigned conversation takes it; nobody waits now.

    `conversation` must have been read with its row locked (`by_thread(lock=True)`, `fresh(lock=True)`): what is
    decided here from it is then true until the transaction ends, and it is written in one UPDATE.
    """
    if conversation.assignee is None:
        conversation.assignee = user
        # The card shows it; the thread gets no note (the agent's own reply is right there).
        await queries.record_event(session, conversation, "assigned", at=now, actor=user, value=user)
    if conversation.awaiting_since is not None and not conversation.answered_in_period:
        conversation.answered_in_period = True
        seconds = max(0.0, (now - conversation.awaiting_since).total_seconds())
        await queries.record_event(session, conversation, "first_answer", at=now, actor=user, seconds=seconds)
    conversation.awaiting_since = conversation.answer_due_at = None


# -- what people do from the card and /sms -------------------------------------------------------------------


async def assign(services: Services, conversation_id: int, *, to: str, actor: str) -> str:
    """Give the conversation to `to` (by `actor`). Returns the answer for `actor`."""
    now = services.clock.now()
    async with services.db.session() as session:
        conversation = await queries.fresh(session, conversation_id)
        seen = conversation.assignee
        if seen == to:
            return f"<@{to}> is already assigned to this conversation."
        if not await queries.compare_and_set_assignee(session, conversation_id, to, seen=seen):
            now_with = (await queries.fresh(session, conversation_id)).assignee
            who = f"<@{now_with}>" if now_with else "nobody"
            return f"Someone changed the assignee meanwhile: it is now {who}. Nothing was changed."
        await queries.record_event(session, conversation, "assigned", at=now, actor=actor, value=to)
        await _post(session, conversation, views.assigned(actor, to, seen))
        await _card(session, conversation)
    services.wakeups.poke_outbox()
    return f"Assigned to <@{to}>." if to != actor else "Assigned to you."


async def resolve(services: Services, conversation_id: int, *, actor: str) -> str:
    now = services.clock.now()
    async with services.db.session() as session:
        conversation = await queries.fresh(session, conversation_id)
        opened_at = conversation.opened_at
        moved = await queries.move_status(
            session,
            conversation_id,
            ConversationStatus.OPEN,
            ConversationStatus.RESOLVED,
            awaiting_since=None,
            answer_due_at=None,
        )
        if not moved:
            return "This conversation is already resolved."
        seconds = max(0.0, (now - opened_at).total_seconds())
        await queries.record_event(session, conversation, "resolved", at=now, actor=actor, seconds=seconds)
        await _post(session, conversation, views.resolved(actor))
        await _card(session, conversation)
    services.wakeups.poke_outbox()
    return "Resolved. A text from the customer reopens it."


async def reopen(services: Services, conversation_id: int, *, actor: str) -> str:
    now = services.clock.now()
    async with services.db.session() as session:
        conversation = await queries.fresh(session, conversation_id)
        moved = await queries.move_status(
            session,
            conversation_id,
            ConversationStatus.RESOLVED,
            ConversationStatus.OPEN,
            opened_at=now,
            answered_in_period=False,
        )
        if not moved:
            return "This conversation is already open."
        await queries.record_event(session, conversation, "reopened", at=now, actor=actor)
        await _post(session, conversation, views.reopened(actor))
        await _card(session, conversation)
    services.wakeups.poke_outbox()
    return "Reopened."


# -- the unanswered-text alert -------------------------------------------------------------------------------


async def raise_due_alerts(services: Services, *, batch_size: int = 50) -> int:
    """Raise every unanswered customer text whose line's answer_within_minutes has passed; returns how many."""
    now = services.clock.now()
    async with services.db.session() as session:
        due = await queries.due_alerts(session, now, batch_size)
    raised = 0
    for conversation_id in due:
        async with services.db.session() as session:
            if not await queries.claim_alert(session, conversation_id, now):
                continue  # answered meanwhile, or another replica raised it
            conversation = await queries.fresh(session, conversation_id)
            if conversation.awaiting_since is None or conversation.status != ConversationStatus.OPEN:
                continue
            minutes = max(1, round((now - conversation.awaiting_since).total_seconds() / 60))
            await queries.record_event(session, conversation, "alerted", at=now, value=conversation.assignee)
            await _post(session, conversation, views.unanswered(conversation.assignee, minutes))
            raised += 1
    if raised:
        services.wakeups.poke_outbox()
    return raised


def install(services: Services) -> list:
    """The conversations' periodic scan (the unanswered-text alert); no workers of its own."""
    services.scheduler.every(ALERT_SCAN_SECONDS, "conversations: unanswered alerts", lambda: raise_due_alerts(services))
    return []


async def phone_of(services: Services, conversation_id: int) -> str | None:
    """The customer number of a conversation (for the card's *Edit contact*), None if there is no such one."""
    async with services.db.session() as session:
        try:
            return (await queries.fresh(session, conversation_id)).phone
        except LookupError:
            return None
