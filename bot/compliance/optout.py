"""One opt-out, one confirmation: the rule every opt-out follows (a keyword, a person in Slack, a stop request in
plain words confirmed by a person or by its due time).

An opt-out of a number already opted out where it applies records nothing, and no confirmation is owed (a second
STOP gets no second one). Otherwise it appends the ledger event and decides the number's pending stop requests as
confirmed and its pending joins as dismissed; the caller texts `confirmation_text` once (purpose "compliance":
it goes out after the opt-out).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.compliance import consent, requests
from bot.lines import KnownLine
from storage.models import ConsentEvent
from storage.states import ConsentRequestStatus


def confirmation_text(line: KnownLine, every_line: bool = False) -> str:
    """The one text that confirms an opt-out (FCC 24-24 allows one, with no marketing in it)."""
    brand = line.config.brand or "This number"
    where = " from any of our numbers" if every_line else ""
    return f"{brand}: You are unsubscribed and will receive no more messages{where}. Reply START to resubscribe."


async def already_opted_out(session: AsyncSession, phone: str, line_id: int | None) -> bool:
    """Whether an opt-out already governs the number there (line_id None: on every line, by an all-line event)."""
    events = await consent.history(session, phone, line_id, limit=1000)
    if line_id is None:
        events = [e for e in events if e.line_id is None]
    return consent.state_from(events, "transactional").opted_out


async def record_opt_out(
    session: AsyncSession,
    *,
    phone: str,
    line_id: int | None,
    source: str,
    evidence: str,
    now: datetime,
    actor: str | None = None,
    message_id: int | None = None,
) -> ConsentEvent | None:
    """Opt the number out (scope all) of one line, or of every line with `line_id` None, and decide its pending
    requests. None when it was already opted out there: nothing is recorded, and no confirmation is owed."""
    if await already_opted_out(session, phone, line_id):
        return None
    event = await consent.record(
        session,
        phone=phone,
        action="opt_out",
        source=source,
        scope="all",
        line_id=line_id,
        evidence=evidence,
        actor=actor,
        message_id=message_id,
        at=now,
    )
    await requests.settle(session, requests.STOP, phone, line_id, ConsentRequestStatus.CONFIRMED, by=actor, at=now)
    await requests.settle(session, requests.JOIN, phone, line_id, ConsentRequestStatus.DISMISSED, by=actor, at=now)
    return event
