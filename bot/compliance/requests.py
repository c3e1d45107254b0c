"""Consent requests waiting for a decision (queries): stop requests in plain words, double opt-in joins.

A stop request holds all marketing to its number from the moment it is stored until it is decided. Decisions are
conditional UPDATEs of `status` (`pending` -> `confirmed` | `dismissed`), so a click, a keyword and the due-time
scan of several replicas decide a request once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compliance.business_days import auto_confirm_at
from storage.bulk import among
from storage.db import changed
from storage.models import ConsentRequest
from storage.states import CONSENT_REQUEST_FLOW, ConsentRequestStatus

STOP = "opt_out"
JOIN = "join"
PENDING = ConsentRequestStatus.PENDING


async def open_request(
    session: AsyncSession,
    kind: str,
    *,
    phone: str,
    line_id: int,
    conversation_id: int | None,
    message_id: int | None,
    received_at: datetime,
) -> ConsentRequest:
    """Store a pending request: a JOIN waits for its YES; a STOP in plain words is due for automatic
    confirmation before 10 business days pass."""
    request = ConsentRequest(
        kind=kind,
        phone=phone,
        line_id=line_id,
        conversation_id=conversation_id,
        message_id=message_id,
        status=PENDING,
        due_at=auto_confirm_at(received_at) if kind == STOP else None,
        created_at=received_at,
    )
    session.add(request)
    await session.flush()
    return request


async def pending(session: AsyncSession, kind: str, phone: str, line_id: int | None = None) -> list[ConsentRequest]:
    """The number's pending requests of a kind (on one line, or on any), oldest first."""
    query = select(ConsentRequest).where(
        ConsentRequest.kind == kind, ConsentRequest.phone == phone, ConsentRequest.status == PENDING
    )
    if line_id is not None:
        query = query.where(ConsentRequest.line_id == line_id)
    return list((await session.scalars(query.order_by(ConsentRequest.id))).all())


async def held(session: AsyncSession, phones: Iterable[str]) -> set[str]:
    """Which of these numbers have a pending stop request: all marketing to them is held."""
    phones = set(phones)
    if not phones:
        return set()
    rows = await session.scalars(
        select(ConsentRequest.phone)
        .where(among(session, ConsentRequest.phone, phones))
        .where(ConsentRequest.kind == STOP, ConsentRequest.status == PENDING)
    )
    return set(rows.all())


async def decide(
    session: AsyncSession, request_id: int, status: ConsentRequestStatus, *, by: str | None, at: datetime
) -> bool:
    """Move one pending request to `status`; False when it was decided before (by anyone)."""
    result = await session.execute(
        update(ConsentRequest)
        .where(ConsentRequest.id == request_id, CONSENT_REQUEST_FLOW.where(ConsentRequest.status, PENDING, status))
        .values(status=status, decided_at=at, decided_by=by)
        .execution_options(synchronize_session=False)
    )
    return changed(result) > 0


async def settle(
    session: AsyncSession,
    kind: str,
    phone: str,
    line_id: int | None,
    status: ConsentRequestStatus,
    *,
    by: str | None,
    at: datetime,
) -> list[int]:
    """Decide every pending request of a kind for the number (on one line, or on every line); their ids."""
    query = select(ConsentRequest.id).where(
        ConsentRequest.kind == kind, ConsentRequest.phone == phone, ConsentRequest.status == PENDING
    )
    if line_id is not None:
        query = query.where(ConsentRequest.line_id == line_id)
    decided = []
    for request_id in (await session.scalars(query)).all():
        if await decide(session, request_id, status, by=by, at=at):
            decided.append(request_id)
    return decided


async def due(session: AsyncSession, now: datetime, limit: int = 100) -> list[ConsentRequest]:
    """Pending stop requests whose automatic confirmation is due."""
    query = (
        select(ConsentRequest)
        .where(ConsentRequest.kind == STOP, ConsentRequest.status == PENDING, ConsentRequest.due_at <= now)
        .order_by(ConsentRequest.due_at)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())
