"""The consent ledger: append-only events per number (and line); a number's state is derived from them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ConsentEvent

# "lift": START/UNSTOP (or YES while opted out) lifts the opt-outs before it; what was on record before them holds.
ACTIONS = ("opt_in", "opt_out", "lift")
SCOPES = ("marketing", "transactional", "all")
# "request": a stop request in plain words, confirmed (by a person, `actor`, or at its due time).
SOURCES = ("keyword", "request", "slack", "import", "api", "carrier")


@dataclass(frozen=True)
class ConsentState:
    """Where a number stands for one kind of traffic on one line."""

    status: str  # opted_in | opted_out | unknown
    source: str | None = None
    at: datetime | None = None
    evidence: str = ""

    @property
    def opted_out(self) -> bool:
        return self.status == "opted_out"

    @property
    def opted_in(self) -> bool:
        return self.status == "opted_in"


UNKNOWN = ConsentState("unknown")

# What `state_from` reads of an event: batch paths select these columns as rows instead of ORM objects.
STATE_COLUMNS = (
    ConsentEvent.phone,
    ConsentEvent.line_id,
    ConsentEvent.action,
    ConsentEvent.scope,
    ConsentEvent.source,
    ConsentEvent.evidence,
    ConsentEvent.created_at,
)


def scopes_for(purpose: str) -> tuple[str, ...]:
    """Which ledger scopes govern a message of this purpose."""
    return ("marketing", "all") if purpose == "marketing" else ("transactional", "all")


class ConsentFact(Protocol):
    """What the consent state is computed from: a ledger event, or a row of its STATE_COLUMNS."""

    line_id: int | None
    scope: str
    action: str
    source: str
    evidence: str
    created_at: datetime


F = TypeVar("F", bound=ConsentFact)


def governing_event(events: Iterable[F], purpose: str) -> F | None:
    """The event that decides `purpose` among `events` (newest first): the newest opt-in or opt-out whose scope
    governs it. A lift (START) passes over the opt-outs older than it, so the opt-in they had overridden, if
    any, holds again; with none, nothing governs (no consent on record)."""
    governing = scopes_for(purpose)
    lifted = False
    for event in events:
        if event.scope not in governing:
            continue
        if event.action == "lift":
            lifted = True
        elif event.action == "opt_out":
            if not lifted:
                return event
        else:
            return event
    return None


def state_from(events: Iterable[ConsentFact], purpose: str) -> ConsentState:
    """The state that `events` (newest first) give for `purpose` (see `governing_event`)."""
    event = governing_event(events, purpose)
    if event is None:
        return UNKNOWN
    status = "opted_out" if event.action == "opt_out" else "opted_in"
    return ConsentState(status, event.source, event.created_at, event.evidence)


async def history(
    session: AsyncSession, phone: str, line_id: int | None = None, limit: int = 200
) -> list[ConsentEvent]:
    """Events for a number, newest first; with `line_id`, that line's events and the all-line ones."""
    query = select(ConsentEvent).where(ConsentEvent.phone == phone)
    if line_id is not None:
        query = query.where(or_(ConsentEvent.line_id == line_id, ConsentEvent.line_id.is_(None)))
    return list((await session.scalars(query.order_by(ConsentEvent.id.desc()).limit(limit))).all())


async def current(session: AsyncSession, phone: str, line_id: int | None, purpose: str) -> ConsentState:
    """A number's consent state on a line for a purpose (conversational counts as transactional)."""
    return state_from(await history(session, phone, line_id), purpose)


async def record(
    session: AsyncSession,
    *,
    phone: str,
    action: str,
    source: str,
    line_id: int | None = None,
    scope: str = "all",
    evidence: str = "",
    actor: str | None = None,
    at: datetime | None = None,
    message_id: int | None = None,
) -> ConsentEvent:
    """Append one event to the ledger. Existing events are never changed."""
    if action not in ACTIONS:
        raise ValueError(f"consent action {action!r} must be one of {', '.join(ACTIONS)}")
    if scope not in SCOPES:
        raise ValueError(f"consent scope {scope!r} must be one of {', '.join(SCOPES)}")
    if source not in SOURCES:
        raise ValueError(f"consent source {source!r} must be one of {', '.join(SOURCES)}")
    event = ConsentEvent(
        phone=phone,
        line_id=line_id,
        action=action,
        scope=scope,
        source=source,
        evidence=evidence,
        actor=actor,
        message_id=message_id,
    )
    if at is not None:
        event.created_at = at
    session.add(event)
    await session.flush()
    return event
