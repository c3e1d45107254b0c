"""The consent ledger changed by hand (an admin's `/sms optin`), and what such a change touches. Opt-outs, which
text a confirmation, are made through `bot.conversations.optouts`.

A change made in a line's channel applies to that line; made anywhere else, to every line (`Where`). Each change
is noted in every conversation of the number it applies to, whose card is re-rendered.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compliance import consent, views
from bot.lines import KnownLine
from bot.services import Services
from bot.slack import outbox
from storage.models import ConsentEvent, Conversation

MAX_EVIDENCE = 1000


@dataclass(frozen=True)
class Where:
    """Which line a command applies to: the channel's line, or every line (None)."""

    line: KnownLine | None

    @property
    def line_id(self) -> int | None:
        return self.line.id if self.line else None


async def refresh_cards(session: AsyncSession, phone: str, where: Where, note: str) -> int:
    """Queue a card update (and a thread note) for every conversation of `phone` the change applies to."""
    query = select(Conversation).where(Conversation.phone == phone)
    if where.line_id is not None:
        query = query.where(Conversation.line_id == where.line_id)
    conversations = list((await session.scalars(query)).all())
    for conversation in conversations:
        await outbox.enqueue(session, channel=conversation.channel, op="update_card", conversation_id=conversation.id)
        await outbox.enqueue(
            session, channel=conversation.channel, op="post", conversation_id=conversation.id, payload={"text": note}
        )
    return len(conversations)


async def opt_in(
    services: Services, *, user: str, phone: str, where: Where, source: str, scope: str, free_text: str
) -> list[tuple[str, consent.ConsentState]]:
    """Record an opt-in by hand, with its evidence; return the number's state per purpose afterwards."""
    evidence = f"opted in by <@{user}> with /sms optin; consent source: {source}"
    if free_text:
        evidence += f"; {free_text}"
    evidence = evidence[:MAX_EVIDENCE]
    async with services.db.session() as session:
        await consent.record(
            session,
            phone=phone,
            action="opt_in",
            source="slack",
            scope=scope,
            line_id=where.line_id,
            evidence=evidence,
            actor=user,
        )
        await refresh_cards(session, phone, where, views.opted_in_note(user, scope, source))
        states = await _states(session, phone, where)
    services.wakeups.poke_outbox()
    return states


async def _states(session: AsyncSession, phone: str, where: Where) -> list[tuple[str, consent.ConsentState]]:
    events = await consent.history(session, phone, where.line_id, limit=1000)
    if where.line_id is None:  # every line: only the all-line events decide what holds everywhere
        events = [e for e in events if e.line_id is None]
    return [(purpose, consent.state_from(events, purpose)) for purpose in ("transactional", "marketing")]


async def history(services: Services, phone: str, where: Where) -> list[ConsentEvent]:
    """The number's consent events on that line (and on every line), newest first."""
    async with services.db.session() as session:
        return await consent.history(session, phone, where.line_id, limit=1000)
