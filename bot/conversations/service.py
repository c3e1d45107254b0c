"""Conversations: a customer's texts into their Slack thread, an agent's thread replies out as SMS."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns.template import contact_fields, render
from bot.carriers.base import InboundSMS
from bot.compliance import consent, optout
from bot.compliance.inbound import KeywordOutcome, handle_keywords
from bot.compliance.keywords import classify
from bot.conversations import inbox, optouts, queries, views
from bot.conversations.card import carries_first_text
from bot.lines import KnownLine
from bot.messaging.outbound import claim_now, hand_or_wake, queue_sms
from bot.phone import InvalidPhoneNumber, mask, parse_e164
from bot.services import Services
from bot.slack import outbox
from bot.slack.files import slack_file_item
from bot.slack.format import escape, to_plain_text
from storage.db import dialect_insert
from storage.models import Conversation, Message, ParkedReply, ProcessedEvent
from storage.states import MessageStatus

log = logging.getLogger(__name__)

NOTE_PREFIX = "note:"
# How long a thread reply waits for its thread's root to be recorded. A root Slack has is recorded within the
# outbox's lease (20 s) even when the process that posted it died before recording it.
PARKED_REPLY_SECONDS = 15 * 60
PARKED_SCAN_SECONDS = 0.5


@dataclass(frozen=True)
class InboundResult:
    stored: bool  # False: a retried delivery of a message we already have, or an unknown line
    message_id: int | None = None
    reason: str = ""
    line: KnownLine | None = None  # the line it was stored on (None when not stored)


def normalize_sender(raw: str) -> str:
    """Customer numbers as E.164; short codes and alphanumeric senders are kept as given."""
    try:
        return parse_e164(raw)
    except InvalidPhoneNumber:
        return raw.strip()


async def store_inbound(session: AsyncSession, services: Services, inbound: InboundSMS) -> InboundResult:
    """Store an inbound text once (per carrier id) in the caller's transaction, in its conversation, with
    everything Slack must show: the Slack posts are outbox rows of the same transaction. The caller commits,
    then pokes the outbox and the sender (bot.conversations.intake)."""
    line = services.lines.by_key(inbound.to) or services.lines.by_key(inbound.messaging_service)
    if line is None:
        log.warning("inbound %s to %s: no line configured for that number", inbound.carrier_sid, mask(inbound.to))
        return InboundResult(stored=False, reason="no line is configured for that number")
    if await session.scalar(select(Message.id).where(Message.carrier_sid == inbound.carrier_sid)):
        return InboundResult(stored=False, reason="duplicate delivery")
    message_id = await _store_inbound(session, services, line, normalize_sender(inbound.from_), inbound)
    return InboundResult(stored=True, message_id=message_id, line=line)


async def _store_inbound(
    session: AsyncSession, services: Services, line: KnownLine, phone: str, inbound: InboundSMS
) -> int:
    if classify(inbound.body) is None:  # keywords (STOP, HELP...) take the customer path from anyone
        for claims, take in services.inbound_routes:
            if await claims(session, phone):  # e.g. a team member's page answer: never a conversation
                return await _store_routed(session, services, line, phone, inbound, take)
    conversation, created = await queries.get_or_create(
        session, line_id=line.id, phone=phone, channel=line.config.channel
    )
    now = services.clock.now()
    message = Message(
        line_id=line.id,
        conversation_id=conversation.id,
        direction="in",
        phone=phone,
        body=inbound.body,
        media=[{"url": url, "content_type": ctype} for url, ctype in inbound.media],
        carrier_sid=inbound.carrier_sid,
        dedupe_key=f"carrier:{inbound.carrier_sid}",
        status=MessageStatus.RECEIVED,
        origin="customer",
        slack_channel=line.config.channel,
        created_at=now,
    )
    session.add(message)
    await session.flush()
    outcome = await handle_keywords(
        session, line=line, phone=phone, message=message, conversation_id=conversation.id, now=now
    )
    reply = await _answer_keyword(session, line, phone, inbound, conversation.id, outcome)
    message.keyword = outcome.keyword.value if outcome.keyword else ("flagged" if outcome.flagged else None)
    conversation.last_activity_at = now
    channel = line.config.channel
    in_card = created and carries_first_text(inbound.body, len(inbound.media), outcome.note, outcome.request_id)
    if created:  # the root names the text it carries
        await outbox.enqueue(
            session,
            channel=channel,
            op="post_root",
            conversation_id=conversation.id,
            message_id=message.id if in_card else None,
        )
    if not in_card:
        await outbox.enqueue(
            session,
            channel=channel,
            op="post",
            conversation_id=conversation.id,
            message_id=message.id,
            payload=views.inbound_post(inbound.body, len(inbound.media), outcome.note, outcome.request_id),
        )
    if inbound.media:
        await outbox.enqueue(
            session, channel=channel, op="upload_media", conversation_id=conversation.id, message_id=message.id
        )
    if reply is not None:
        await outbox.enqueue(
            session,
            channel=channel,
            op="post",
            conversation_id=conversation.id,
            message_id=reply.id,
            payload={"text": f":robot_face: Automatic answer: {escape(reply.body)}"},
        )
    await inbox.on_customer_text(session, services, line, conversation, message, outcome)
    if not created:
        await outbox.enqueue(session, channel=channel, op="update_card", conversation_id=conversation.id)
    if outcome.keyword is None:
        for hook in services.inbound_hooks:
            await hook(session, line, message)
    return message.id


async def _store_routed(
    session: AsyncSession, services: Services, line: KnownLine, phone: str, inbound: InboundSMS, take
) -> int:
    """Store a text another domain claimed (outside any conversation), then hand it to that domain."""
    message = Message(
        line_id=line.id,
        direction="in",
        phone=phone,
        body=inbound.body,
        media=[{"url": url, "content_type": ctype} for url, ctype in inbound.media],
        carrier_sid=inbound.carrier_sid,
        dedupe_key=f"carrier:{inbound.carrier_sid}",
        status=MessageStatus.RECEIVED,
        origin="team",
        created_at=services.clock.now(),
    )
    session.add(message)
    await session.flush()
    await take(session, line, message)
    return message.id


async def _answer_keyword(
    session: AsyncSession,
    line: KnownLine,
    phone: str,
    inbound: InboundSMS,
    conversation_id: int,
    outcome: KeywordOutcome,
) -> Message | None:
    """Queue a keyword's one answer (once per inbound message); None when there is nothing to answer."""
    if outcome.answer is None or outcome.keyword is None:
        return None
    return await queue_sms(
        session,
        line=line,
        phone=phone,
        body=outcome.answer,
        origin="system",
        purpose="compliance",
        origin_ref=outcome.keyword.value if outcome.keyword else None,
        conversation_id=conversation_id,
        dedupe_key=f"keyword-reply:{inbound.carrier_sid}",
        slack_channel=line.config.channel,
    )


@dataclass(frozen=True)
class ThreadReply:
    """A person's message in a Slack thread, as the events API gave it."""

    event_id: str | None
    channel: str
    thread_ts: str
    ts: str
    user: str
    text: str
    files: tuple[dict, ...] = ()


SNIPPET_REPLY = re.compile(r"!([A-Za-z0-9_-]{1,40})")


async def reply_from_slack(services: Services, reply: ThreadReply) -> str:
    """Queue an agent's thread reply as SMS. Returns what happened: sent, snippet, unknown_snippet, note,
    duplicate, parked (its thread's root is not recorded yet: it is answered once it is), empty."""
    if reply.text.strip().lower().startswith(NOTE_PREFIX):
        return "note"
    if not reply.text.strip() and not reply.files:
        return "empty"
    try:
        async with services.db.session() as session:
            conversation = await queries.by_thread(session, reply.channel, reply.thread_ts, lock=True)
            if conversation is None:
                if not await _first_delivery(session, reply):
                    return "duplicate"
                await _park(session, reply, services.clock.now())
                return "parked"
            outcome, queued = await _answer_reply(services, session, conversation, reply)
    except IntegrityError:
        return "duplicate"
    hand_or_wake(services, queued)
    return outcome


async def _park(session: AsyncSession, reply: ThreadReply, now: datetime) -> None:
    session.add(
        ParkedReply(
            channel=reply.channel,
            thread_ts=reply.thread_ts,
            ts=reply.ts,
            user=reply.user,
            text=reply.text,
            files=list(reply.files),
            parked_at=now,
        )
    )
    await session.flush()


async def answer_parked_replies(services: Services) -> int:
    """Answer the parked replies whose thread root is recorded now, oldest first; drop those that expired (their
    thread is not a customer's). Each is taken by a conditional DELETE in the transaction that answers it, so
    replicas scanning at once answer it once. Returns how many were answered."""
    answered = 0
    async with services.db.session() as session:
        ready = [(parked.id, _unparked(parked)) for parked in await queries.parked_with_threads(session)]
        cutoff = services.clock.now() - timedelta(seconds=PARKED_REPLY_SECONDS)
        expired = await queries.take_parked_before(session, cutoff)
    for channel, ts in expired:
        log.info("slack reply %s in %s: not_ours (no conversation has that thread)", ts, channel)
    for parked_id, reply in ready:
        try:
            async with services.db.session() as session:
                if not await queries.take_parked(session, parked_id):
                    continue
                conversation = await queries.by_thread(session, reply.channel, reply.thread_ts, lock=True)
                if conversation is None:
                    continue
                outcome, queued = await _answer_reply(services, session, conversation, reply)
        except IntegrityError:
            continue
        hand_or_wake(services, queued)
        log.info("slack reply %s in %s: %s (after its thread's root was recorded)", reply.ts, reply.channel, outcome)
        answered += 1
    return answered


def _unparked(parked: ParkedReply) -> ThreadReply:
    return ThreadReply(
        event_id=None,  # its delivery was taken when it was parked
        channel=parked.channel,
        thread_ts=parked.thread_ts,
        ts=parked.ts,
        user=parked.user,
        text=parked.text,
        files=tuple(parked.files),
    )


async def _answer_reply(
    services: Services, session: AsyncSession, conversation: Conversation, reply: ThreadReply
) -> tuple[str, Message | None]:
    """Queue a reply in its conversation (in the caller's transaction). Returns the outcome as
    `reply_from_slack` says, and the text queued, if any (for `hand_or_wake` once the transaction commits)."""
    snippet_name = SNIPPET_REPLY.fullmatch(reply.text.strip())
    line = services.lines.get(conversation.line_id)
    body = to_plain_text(reply.text)
    outcome = "sent"
    if snippet_name:
        name = snippet_name.group(1).lower()
        saved = await queries.snippet(session, name)
        if saved is None:
            if not await _first_delivery(session, reply):
                return "duplicate", None
            await outbox.enqueue(
                session,
                channel=reply.channel,
                op="ephemeral",
                conversation_id=conversation.id,
                payload={"user": reply.user, "thread_ts": reply.thread_ts, "text": views.unknown_snippet(name)},
            )
            return "unknown_snippet", None
        contact = await queries.contact_for(session, conversation.phone)
        fields = contact_fields(contact) if contact else {"phone": conversation.phone}
        body, outcome = render(saved.text, fields), "snippet"
    media = [slack_file_item(f) for f in reply.files]
    claim = await claim_now(
        services, session, line=line, phone=conversation.phone, purpose="conversational", media=media
    )
    queued = await queue_sms(
        session,
        line=line,
        phone=conversation.phone,
        body=body,
        origin="slack",
        origin_ref=reply.user,
        conversation_id=conversation.id,
        media=media,
        dedupe_key=f"slack:{reply.channel}:{reply.ts}",
        slack_channel=reply.channel,
        slack_ts=reply.ts,
        claim=claim,
    )
    if queued is None:
        return "duplicate", None
    now = services.clock.now()
    conversation.last_agent, conversation.last_activity_at = reply.user, now
    if outcome == "snippet" and snippet_name:
        await outbox.enqueue(
            session,
            channel=reply.channel,
            op="post",
            conversation_id=conversation.id,
            payload={"text": views.snippet_sent(reply.user, snippet_name.group(1).lower(), body)},
        )
    await inbox.on_agent_answer(session, conversation, reply.user, now)
    await outbox.enqueue(session, channel=reply.channel, op="update_card", conversation_id=conversation.id)
    return outcome, queued


async def _first_delivery(session: AsyncSession, reply: ThreadReply) -> bool:
    """Record the event's delivery; False if it was recorded before (Slack retried it). Only what queues no
    text asks: a text is queued once by its own key, the Slack message's channel and ts."""
    if reply.event_id is None:  # a parked reply, whose delivery was recorded when it was parked
        return True
    taken = dialect_insert(session.bind)(ProcessedEvent).values(key=f"slack-event:{reply.event_id}")
    return await session.scalar(taken.on_conflict_do_nothing().returning(ProcessedEvent.key)) is not None


async def start_from_command(services: Services, *, channel: str, user: str, number: str, text: str) -> str:
    """`/sms send +1... TEXT`: open (or continue) the conversation with that number and text it.

    Returns the answer for the person who ran the command.
    """
    line = services.lines.by_channel(channel)
    if line is None:
        return "`/sms send` works in a line's channel; this channel is not connected to a line."
    try:
        phone = parse_e164(number)
    except InvalidPhoneNumber as exc:
        return f":warning: {exc}. Write it like +14155550100."
    if not text.strip():
        return "Usage: `/sms send +14155550100 your message`"
    async with services.db.session() as session:
        state = await consent.current(session, phone, line.id, "conversational")
        if state.opted_out:
            return f":no_entry: Not sent: {phone} opted out of this line ({state.source}). Nothing is sent to it."
        conversation, created = await queries.get_or_create(session, line_id=line.id, phone=phone, channel=channel)
        if not created:  # held, so that what on_agent_answer decides from it stays true
            conversation = await queries.fresh(session, conversation.id, lock=True)
        conversation.last_agent, conversation.last_activity_at = user, services.clock.now()
        claim = await claim_now(services, session, line=line, phone=phone, purpose="conversational")
        message = await queue_sms(
            session,
            line=line,
            phone=phone,
            body=text,
            origin="slack",
            origin_ref=user,
            conversation_id=conversation.id,
            slack_channel=channel,
            claim=claim,
        )
        assert message is not None  # queued without a dedupe key: never refused as a repeat
        if not created:
            await inbox.on_agent_answer(session, conversation, user, services.clock.now())
        if created:
            await outbox.enqueue(session, channel=channel, op="post_root", conversation_id=conversation.id)
        else:
            await outbox.enqueue(session, channel=channel, op="update_card", conversation_id=conversation.id)
        await outbox.enqueue(
            session,
            channel=channel,
            op="post",
            conversation_id=conversation.id,
            message_id=message.id,
            payload={"text": f"<@{user}> (via /sms send): {escape(text)}"},
        )
    hand_or_wake(services, message)
    where = "a new thread" if created else "its thread"
    return f"Texting {phone}; the conversation is in {where} in this channel."


async def opt_out_from_slack(services: Services, *, channel: str, user: str, phone: str) -> str:
    """An agent's opt-out from the thread: record it on that line for that number, by that agent, and text the
    number its one confirmation (none when it was already opted out)."""
    line = services.lines.by_channel(channel)
    if line is None:
        return "This channel is not connected to a line."
    async with services.db.session() as session:
        conversation = await session.scalar(
            select(Conversation).where(Conversation.line_id == line.id, Conversation.phone == phone)
        )
        now = services.clock.now()
        event = await optout.record_opt_out(
            session,
            phone=phone,
            line_id=line.id,
            source="slack",
            actor=user,
            evidence=f"agent <@{user}> opted the number out from the conversation thread",
            now=now,
        )
        if event is None:
            return f"{phone} was already opted out of this line; nothing changed and nothing was texted."
        confirmation = await optouts.queue_confirmation(
            session, line=line, phone=phone, event=event, conversation_id=conversation.id if conversation else None
        )
        if conversation is not None:
            await outbox.enqueue(session, channel=channel, op="update_card", conversation_id=conversation.id)
            await outbox.enqueue(
                session,
                channel=channel,
                op="post",
                conversation_id=conversation.id,
                payload={"text": views.opted_out_by(user, confirmation)},
            )
    services.wakeups.poke_outbox()
    services.wakeups.poke_sender()
    return f"{phone} is opted out of this line" + ("; a confirmation was texted." if confirmation else ".")
