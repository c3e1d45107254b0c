"""A team member's texts to a line are answers to pages (`ACK`, `ACK 12`, `1`, `RESOLVE 12`), never customer
conversations.

A team member is a number of the roster (`/sms team add`) or a number a person was paged at (the phone on their
Slack profile). Anyone else texting ACK is a customer, and their text goes to the line's conversations.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.lines import KnownLine
from bot.messaging.outbound import queue_sms
from bot.notify import service
from bot.phone import mask
from bot.services import Services
from storage.models import Message
from storage.models.notify import Notification, NotificationRecipient, RosterEntry
from storage.states import PageStatus

log = logging.getLogger(__name__)

_ANSWER = re.compile(r"^(ack|acknowledge|acknowledged|1|resolve|resolved)(?:\s*#?\s*(\d{1,12}))?$")
USAGE = "Reply ACK 12 to acknowledge page 12, or RESOLVE 12 to resolve it."


@dataclass(frozen=True)
class Answer:
    verb: str  # ack | resolve
    number: int | None  # the page it names; None: "my open page"


def parse_answer(body: str) -> Answer | None:
    """`ACK`, `ack 12`, `ACK #12`, `1`, `RESOLVE 12` (any case, trailing punctuation ignored); None otherwise."""
    text = " ".join((body or "").split()).lower().rstrip(".!")
    match = _ANSWER.match(text)
    if match is None or (match.group(1) == "1" and match.group(2)):
        return None
    verb = "resolve" if match.group(1).startswith("resolve") else "ack"
    return Answer(verb, int(match.group(2)) if match.group(2) else None)


async def is_team_number(session: AsyncSession, phone: str) -> bool:
    """Whether `phone` belongs to a team member: in the roster, or a number a person was paged at."""
    if await session.scalar(select(RosterEntry.user_id).where(RosterEntry.phone == phone).limit(1)):
        return True
    paged = await session.scalar(
        select(NotificationRecipient.id)
        .where(
            NotificationRecipient.phone == phone,
            NotificationRecipient.user_id.is_not(None),
            NotificationRecipient.message_id.is_not(None),
        )
        .limit(1)
    )
    return paged is not None


async def _user_of(session: AsyncSession, phone: str) -> str | None:
    user = await session.scalar(select(RosterEntry.user_id).where(RosterEntry.phone == phone).limit(1))
    if user:
        return user
    return await session.scalar(
        select(NotificationRecipient.user_id)
        .where(NotificationRecipient.phone == phone, NotificationRecipient.user_id.is_not(None))
        .order_by(NotificationRecipient.id.desc())
        .limit(1)
    )


async def open_pages_of(session: AsyncSession, phone: str, statuses: tuple[PageStatus, ...]) -> list[Notification]:
    """The pages this number was texted for that are in one of `statuses`, oldest first."""
    ids = select(NotificationRecipient.notification_id).where(
        NotificationRecipient.phone == phone, NotificationRecipient.message_id.is_not(None)
    )
    rows = await session.scalars(
        select(Notification)
        .where(Notification.id.in_(ids), Notification.status.in_(statuses))
        .order_by(Notification.id)
    )
    return list(rows.all())


def _short(text: str, limit: int = 40) -> str:
    flat = " ".join((text.splitlines() or [""])[0].split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


async def take_team_text(session: AsyncSession, services: Services, line: KnownLine, message: Message) -> None:
    """Act on a team member's text (stored by the caller, outside any conversation) and text them one answer."""
    answer = parse_answer(message.body)
    phone = message.phone
    if answer is None:
        reply = await _not_an_answer(session, phone)
    else:
        reply = await _apply(session, services, phone, answer)
    await queue_sms(
        session,
        line=line,
        phone=phone,
        body=reply,
        origin=service.ORIGIN,
        purpose="transactional",
        dedupe_key=f"notify-answer:{message.id}",
    )
    services.wakeups.poke_sender()
    log.info("notify: page answer from %s: %s", mask(phone), answer)


async def _not_an_answer(session: AsyncSession, phone: str) -> str:
    pages = await open_pages_of(session, phone, (PageStatus.OPEN,))
    if not pages:
        return f"No page of yours is open. {USAGE}"
    number = pages[-1].id
    return f"Not understood. Reply ACK {number} to acknowledge page {number}, or RESOLVE {number} to resolve it."


async def _apply(session: AsyncSession, services: Services, phone: str, answer: Answer) -> str:
    user = await _user_of(session, phone)
    if answer.number is None:
        statuses = (PageStatus.OPEN,) if answer.verb == "ack" else (PageStatus.OPEN, PageStatus.ACKED)
        pages = await open_pages_of(session, phone, statuses)
        word = "ACK" if answer.verb == "ack" else "RESOLVE"
        if not pages:
            return f"No page of yours is open to {'acknowledge' if answer.verb == 'ack' else 'resolve'}."
        if len(pages) > 1:
            listed = "; ".join(f"{p.id}: {_short(p.text)}" for p in pages[:5])
            more = f" and {len(pages) - 5} more" if len(pages) > 5 else ""
            example = f"{word} {pages[0].id}"
            return f"You have {len(pages)} open pages ({listed}{more}). Reply {word} and the number, e.g. {example}."
        number = pages[0].id
    else:
        number = answer.number
    if answer.verb == "ack":
        outcome = await service.acknowledge(session, services, number, user=user, phone=phone)
    else:
        outcome = await service.resolve_page(session, services, number, by=user or phone, user=user)
    return outcome.message
