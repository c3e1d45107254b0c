"""Reads about conversations shared by the service, the card and the Slack handlers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compliance import consent
from bot.conversations.card import CardFacts
from bot.lines import LineDirectory
from bot.slack.format import pretty_phone
from storage.models import Contact, Conversation


async def by_thread(session: AsyncSession, channel: str, thread_ts: str) -> Conversation | None:
    return await session.scalar(
        select(Conversation).where(Conversation.channel == channel, Conversation.thread_ts == thread_ts)
    )


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


async def card_facts(session: AsyncSession, lines: LineDirectory, conversation: Conversation) -> CardFacts:
    """Everything the root card shows, read now."""
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
    )
