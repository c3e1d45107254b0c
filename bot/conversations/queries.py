"""Reads about conversations shared by the service, the card and the Slack handlers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compliance import consent
from bot.contacts import queries as contact_queries
from bot.conversations.card import CardFacts, FirstText
from bot.lines import LineDirectory
from bot.slack.format import pretty_phone
from storage.db import changed
from storage.models import Contact, ContactTag, Conversation, ConversationEvent, Message, ParkedReply, Snippet
from storage.states import CONVERSATION_FLOW, ConversationStatus


async def by_thread(session: AsyncSession, channel: str, thread_ts: str, *, lock: bool = False) -> Conversation | None:
    """The conversation whose thread this is; with `lock`, its row is held until the transaction ends (and read
    as it is now), so what the caller decides from it stays true."""
    query = select(Conversation).where(Conversation.channel == channel, Conversation.thread_ts == thread_ts)
    if lock:
        query = query.with_for_update(key_share=True).execution_options(populate_existing=True)
    return await session.scalar(query)


async def parked_with_threads(session: AsyncSession, limit: int = 100) -> list[ParkedReply]:
    """Parked thread replies whose thread's root is recorded now, oldest first."""
    thread = (Conversation.channel == ParkedReply.channel) & (Conversation.thread_ts == ParkedReply.thread_ts)
    return list(
        await session.scalars(select(ParkedReply).join(Conversation, thread).order_by(ParkedReply.id).limit(limit))
    )


async def take_parked_before(session: AsyncSession, cutoff: datetime) -> list[tuple[str, str]]:
    """Remove the replies parked before `cutoff`; return the (channel, ts) of those this transaction removed."""
    removed = await session.execute(
        delete(ParkedReply).where(ParkedReply.parked_at < cutoff).returning(ParkedReply.channel, ParkedReply.ts)
    )
    return [(channel, ts) for channel, ts in removed.tuples()]


async def take_parked(session: AsyncSession, parked_id: int) -> bool:
    """Remove one parked reply; False when another transaction took it first."""
    return changed(await session.execute(delete(ParkedReply).where(ParkedReply.id == parked_id))) == 1


async def get_or_create(session: AsyncSession, *, line_id: int, phone: str, channel: str) -> tuple[Conversation, bool]:
    """The conversation for (line, number), created if new. Safe against a concurrent create."""
    query = select(Conversation).where(Conversation.line_id == line_id, Conversation.phone == phone)
    found = await session.scalar(query)
    if found is not None:
        return found, False
    try:
        async with session.begin_nested():
            conversation = Conversation(line_id=line_id, phone=phone, channel=channel)
            session.add(conversation)
        return conversation, True
    except IntegrityError:
        return (await session.scalars(query)).one(), False


async def contact_for(session: AsyncSession, phone: str) -> Contact | None:
    return await session.scalar(select(Contact).where(Contact.phone == phone))


async def first_text(session: AsyncSession, conversation: Conversation, message_id: int | None) -> FirstText | None:
    """The customer's text the root card carries: `message_id` while the card is being posted; once it is,
    the text posted as the thread's root (None when the card carries no text)."""
    if message_id is not None:
        which = Message.id == message_id
    elif conversation.thread_ts is not None:
        which = (Message.conversation_id == conversation.id) & (Message.slack_ts == conversation.thread_ts)
    else:
        return None
    found = (await session.execute(select(Message.body, Message.media).where(which, Message.direction == "in"))).first()
    return FirstText(found.body, len(found.media or ())) if found else None


async def card_facts(
    session: AsyncSession,
    lines: LineDirectory,
    conversation: Conversation,
    now: datetime | None = None,
    *,
    first_message_id: int | None = None,
) -> CardFacts:
    """Everything the root card shows, read now; `first_message_id`: the text the card is first posted with."""
    contact = await contact_for(session, conversation.phone)
    events = await consent.history(session, conversation.phone, conversation.line_id)
    line = lines.by_id(conversation.line_id)
    label = ""
    if line is not None:
        label = line.config.brand or ""
        key = line.config.number and pretty_phone(line.config.number) or line.config.messaging_service
        label = f"{label} {key}".strip()
    name = " ".join(p for p in ((contact.first_name, contact.last_name) if contact else ()) if p)
    return CardFacts(
        phone=conversation.phone,
        name=name,
        line_label=label,
        transactional=consent.state_from(events, "transactional"),
        marketing=consent.state_from(events, "marketing"),
        last_activity=conversation.last_activity_at,
        last_agent=conversation.last_agent,
        number_status=contact.number_status if contact else "ok",
        conversation_id=conversation.id,
        status=conversation.status,
        assignee=conversation.assignee,
        tags=tuple(await contact_queries.tags(session, contact.id)) if contact else (),
        notes=contact.notes if contact else "",
        closed_now=bool(
            line
            and line.config.business_hours
            and not line.config.business_hours.open_at(now or conversation.last_activity_at)
        ),
        first_text=await first_text(session, conversation, first_message_id),
    )


# -- the inbox: status, assignee, waiting, history ----------------------------------------------------------


async def record_event(
    session: AsyncSession,
    conversation: Conversation,
    kind: str,
    *,
    at: datetime,
    actor: str | None = None,
    value: str | None = None,
    seconds: float | None = None,
) -> None:
    session.add(
        ConversationEvent(
            conversation_id=conversation.id,
            line_id=conversation.line_id,
            kind=kind,
            actor=actor,
            value=value,
            seconds=seconds,
            created_at=at,
        )
    )
    await session.flush()


async def fresh(session: AsyncSession, conversation_id: int, *, lock: bool = False) -> Conversation:
    """The conversation as the database has it now (not as this session read it earlier); with `lock`, its
    row is held until the transaction ends."""
    query = select(Conversation).where(Conversation.id == conversation_id)
    if lock:
        query = query.with_for_update(key_share=True)
    found = await session.scalar(query.execution_options(populate_existing=True))
    if found is None:
        raise LookupError(f"conversation {conversation_id} does not exist")
    return found


async def compare_and_set_assignee(
    session: AsyncSession, conversation_id: int, new: str | None, *, seen: str | None
) -> bool:
    """Set the assignee if it is still `seen` (a conditional UPDATE: of two concurrent changes, one wins)."""
    result = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.assignee.is_not_distinct_from(seen))
        .values(assignee=new)
        .execution_options(synchronize_session=False)
    )
    return changed(result) == 1


async def move_status(
    session: AsyncSession, conversation_id: int, old: ConversationStatus, new: ConversationStatus, **values: object
) -> bool:
    """Move the conversation from `old` to `new` (with `values`) if it is still in `old`."""
    result = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, CONVERSATION_FLOW.where(Conversation.status, old, new))
        .values(status=new, **values)
        .execution_options(synchronize_session=False)
    )
    return changed(result) == 1


async def start_waiting(session: AsyncSession, conversation_id: int, now: datetime, due: datetime | None) -> bool:
    """The customer waits from `now`, unless they were already waiting; the alert is due at `due`."""
    result = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.awaiting_since.is_(None))
        .values(awaiting_since=now, answer_due_at=due)
        .execution_options(synchronize_session=False)
    )
    return changed(result) == 1


async def due_alerts(session: AsyncSession, now: datetime, limit: int) -> list[int]:
    query = (
        select(Conversation.id)
        .where(Conversation.answer_due_at.is_not(None), Conversation.answer_due_at <= now)
        .order_by(Conversation.answer_due_at)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def claim_alert(session: AsyncSession, conversation_id: int, now: datetime) -> bool:
    """Take a due alert: the one replica whose conditional UPDATE clears the due time raises it."""
    result = await session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation_id,
            Conversation.answer_due_at.is_not(None),
            Conversation.answer_due_at <= now,
        )
        .values(answer_due_at=None)
        .execution_options(synchronize_session=False)
    )
    return changed(result) == 1


async def claim_away(session: AsyncSession, conversation_id: int, now: datetime, quiet_after: datetime) -> bool:
    """Take the right to send the away text now: none was sent since `quiet_after`."""
    result = await session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation_id,
            or_(Conversation.away_sent_at.is_(None), Conversation.away_sent_at <= quiet_after),
        )
        .values(away_sent_at=now)
        .execution_options(synchronize_session=False)
    )
    return changed(result) == 1


@dataclass(frozen=True)
class InboxRow:
    conversation: Conversation
    name: str


async def open_conversations(
    session: AsyncSession, line_ids: list[int], *, assignee: str | None = None, unassigned: bool = False, limit: int
) -> list[InboxRow]:
    """Open conversations of these lines, the longest-waiting first, then the least recently active."""
    query = (
        select(Conversation, Contact.first_name, Contact.last_name)
        .outerjoin(Contact, Contact.phone == Conversation.phone)
        .where(Conversation.line_id.in_(line_ids), Conversation.status == ConversationStatus.OPEN)
        .order_by(Conversation.awaiting_since.is_(None), Conversation.awaiting_since, Conversation.last_activity_at)
        .limit(limit)
    )
    if assignee is not None:
        query = query.where(Conversation.assignee == assignee)
    if unassigned:
        query = query.where(Conversation.assignee.is_(None))
    rows = (await session.execute(query)).all()
    return [InboxRow(c, " ".join(p for p in (first, last) if p)) for c, first, last in rows]


async def find_conversations(session: AsyncSession, text: str, *, digits: str, limit: int) -> list[InboxRow]:
    """Conversations whose number holds `digits` (when given), or whose contact's name or a tag matches `text`."""
    pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    tagged = select(ContactTag.contact_id).where(func.lower(ContactTag.tag) == text.lower())
    full_name = func.lower(Contact.first_name + " " + Contact.last_name)
    matches = [full_name.like(pattern, escape="\\"), Contact.id.in_(tagged)]
    if digits:
        matches.append(Conversation.phone.like(f"%{digits}%"))
    query = (
        select(Conversation, Contact.first_name, Contact.last_name)
        .outerjoin(Contact, Contact.phone == Conversation.phone)
        .where(or_(*matches))
        .order_by(Conversation.last_activity_at.desc())
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    return [InboxRow(c, " ".join(p for p in (first, last) if p)) for c, first, last in rows]


async def by_line_phone(session: AsyncSession, line_id: int, phone: str) -> Conversation | None:
    return await session.scalar(
        select(Conversation).where(Conversation.line_id == line_id, Conversation.phone == phone)
    )


# -- snippets ------------------------------------------------------------------------------------------------


async def snippet(session: AsyncSession, name: str) -> Snippet | None:
    return await session.get(Snippet, name)


async def snippets(session: AsyncSession) -> list[Snippet]:
    return list((await session.scalars(select(Snippet).order_by(Snippet.name))).all())


async def save_snippet(session: AsyncSession, name: str, text: str, user: str, now: datetime) -> bool:
    """Insert or replace a snippet; True when it is new."""
    existing = await session.get(Snippet, name)
    if existing is not None:
        existing.text, existing.created_by, existing.created_at = text, user, now
        return False
    try:
        async with session.begin_nested():
            session.add(Snippet(name=name, text=text, created_by=user, created_at=now))
    except IntegrityError:  # added meanwhile by someone else: theirs stays, this one replaces it
        await session.execute(update(Snippet).where(Snippet.name == name).values(text=text, created_by=user))
        return False
    return True


async def delete_snippet(session: AsyncSession, name: str) -> bool:
    return changed(await session.execute(delete(Snippet).where(Snippet.name == name))) == 1
