"""The send gate: every outbound text passes here at send time, whatever path queued it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import BigInteger, Select, cast, literal, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compliance import consent, requests
from bot.compliance.quiet_hours import QuietHoursPolicy, next_allowed
from bot.phone import is_e164
from bot.settings import ComplianceConfig
from storage.bulk import among, among_bound
from storage.models import ConsentEvent, Contact, InboundText, Message
from storage.states import MessageStatus

SENT_STATUSES = (
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.UNDELIVERED,
)


@dataclass(frozen=True)
class Decision:
    """`send`, `block` (never: recorded reason) or `defer` (not now: try again at `until`)."""

    action: str
    reason: str = ""
    until: datetime | None = None

    @property
    def allowed(self) -> bool:
        return self.action == "send"


SEND = Decision("send")
# An opt-out keyword received and not yet recorded (bot.conversations.intake): held, looked at again shortly.
OPT_OUT_ARRIVING = "an opt-out from this number was received and is being recorded"
ARRIVING_RECHECK = timedelta(seconds=2)
NOT_A_NUMBER = Decision("block", "the destination is not a phone number (E.164); nothing is sent to it")


@dataclass(frozen=True)
class Unsent:
    """What the gate needs of a text that is not stored yet (a sender claiming it as it is queued)."""

    phone: str
    line_id: int
    purpose: str
    id: int = 0


def quiet_policy(config: ComplianceConfig) -> QuietHoursPolicy:
    return QuietHoursPolicy.from_config(config.quiet_hours, config.quiet_hours_by_region)


async def check(
    session: AsyncSession,
    message: Message | Unsent,
    *,
    config: ComplianceConfig,
    policy: QuietHoursPolicy,
    now: datetime,
) -> Decision:
    """Decide whether one message may go out now (see `check_many`)."""
    return (await check_many(session, [message], config=config, policy=policy, now=now))[message.id]


async def check_many(
    session: AsyncSession,
    messages: Sequence[Message | Unsent],
    *,
    config: ComplianceConfig,
    policy: QuietHoursPolicy,
    now: datetime,
) -> dict[int, Decision]:
    """Decide, for each message, whether it may go out now. A handful of queries for the whole batch.

    Every purpose: nothing to a destination that is not an E.164 number (an alphanumeric or short-code sender
    may write to us; nothing is ever sent back to it), nor to a number whose governing consent event is an
    opt-out; deferred while an opt-out keyword from that number is received but not yet recorded.
    Marketing also needs an opt-in on record, a number not marked invalid/landline, the recipient's
    local quiet hours and the rolling 24-hour frequency cap. Keyword answers ("compliance") always go.
    """
    governed = [m for m in messages if m.purpose != "compliance"]
    events, arriving = await _consent_and_arriving_opt_outs(session, {m.phone for m in governed})
    marketing = [m for m in governed if m.purpose == "marketing"]
    contacts = await _contacts(session, {m.phone for m in marketing})
    held = await requests.held(session, {m.phone for m in marketing})
    recent = await _recent_marketing(session, {m.phone for m in marketing}, now)
    decisions: dict[int, Decision] = {}
    for message in messages:
        if not is_e164(message.phone):
            decisions[message.id] = NOT_A_NUMBER
            continue
        if message.purpose == "compliance":
            decisions[message.id] = SEND  # the one answer a STOP/START/HELP requires, whatever the consent
            continue
        if message.phone in arriving:
            decisions[message.id] = Decision("defer", OPT_OUT_ARRIVING, now + ARRIVING_RECHECK)
            continue
        line_events = [e for e in events.get(message.phone, ()) if e.line_id in (None, message.line_id)]
        state = consent.state_from(line_events, message.purpose)
        if state.opted_out:
            source = f" ({state.source})" if state.source else ""
            decisions[message.id] = Decision("block", f"the number opted out{source}; nothing is sent to it")
        elif message.purpose != "marketing":
            decisions[message.id] = SEND
        elif message.phone in held:
            decisions[message.id] = Decision(
                "block", "the number asked to stop in words; marketing is held until someone decides"
            )
        else:
            decisions[message.id] = _marketing(
                message, state, contacts.get(message.phone), recent.get(message.phone, []), config, policy, now
            )
    return decisions


def _marketing(
    message: Message | Unsent,
    state: consent.ConsentState,
    contact: Contact | None,
    sent_at: list[datetime],
    config: ComplianceConfig,
    policy: QuietHoursPolicy,
    now: datetime,
) -> Decision:
    if not state.opted_in:
        return Decision("block", "no marketing opt-in on record for this number")
    if contact is not None and contact.number_status != "ok":
        return Decision("block", f"the number is marked {contact.number_status}: {contact.number_status_reason}")
    allowed_at = next_allowed(message.phone, now, policy)
    if allowed_at is None:
        return Decision(
            "block", "no moment in the next 7 days falls inside quiet-hour rules in every time zone of the number"
        )
    if allowed_at > now:
        return Decision("defer", "recipient's quiet hours", allowed_at)
    others = [at for at in sent_at if at is not None]
    if len(others) >= config.frequency_cap:
        return Decision(
            "block",
            f"frequency cap: {len(others)} marketing texts in the last 24 hours "
            f"(limit {config.frequency_cap}); "
            f"next possible after {min(others) + timedelta(hours=24):%Y-%m-%d %H:%M} UTC",
        )
    return SEND


async def _consent_and_arriving_opt_outs(
    session: AsyncSession, phones: set[str]
) -> tuple[dict[str, list[consent.ConsentFact]], set[str]]:
    """Every ledger event of these numbers, newest first, by number; and the numbers whose opt-out keyword has
    been received (its webhook answered) but not yet recorded. One statement: a send waits on it."""
    by_phone: dict[str, list[consent.ConsentFact]] = {}
    arriving: set[str] = set()
    if not phones:
        return by_phone, arriving
    statement = _consent_and_arriving_statement(session.bind.dialect.name)
    for row in await session.execute(statement, {"phones": list(phones)}):
        if row.arriving:
            arriving.add(row.phone)
        else:
            by_phone.setdefault(row.phone, []).append(row)
    return by_phone, arriving


@cache
def _consent_and_arriving_statement(dialect: str) -> Select:
    """The statement of `_consent_and_arriving_opt_outs`, built once per database kind (storage.bulk.among_bound)."""
    events = select(*consent.STATE_COLUMNS, ConsentEvent.id.label("event_id"), literal(False).label("arriving")).where(
        among_bound(dialect, ConsentEvent.phone, "phones")
    )
    received = (
        select(
            InboundText.sender.label("phone"),
            cast(null(), BigInteger).label("line_id"),  # typed: DISTINCT would make a bare NULL text
            *(literal("").label(name) for name in ("action", "scope", "source", "evidence")),
            InboundText.received_at.label("created_at"),
            cast(null(), BigInteger).label("event_id"),
            literal(True).label("arriving"),
        )
        .where(InboundText.opt_out, among_bound(dialect, InboundText.sender, "phones"))
        .distinct()
    )
    both = union_all(events, received).subquery()
    return select(both).order_by(both.c.arriving, both.c.event_id.desc())


async def _contacts(session: AsyncSession, phones: set[str]) -> dict[str, Contact]:
    if not phones:
        return {}
    return {c.phone: c for c in await session.scalars(select(Contact).where(among(session, Contact.phone, phones)))}


async def _recent_marketing(session: AsyncSession, phones: set[str], now: datetime) -> dict[str, list[datetime]]:
    """When each number was sent marketing in the last 24 hours."""
    if not phones:
        return {}
    rows = await session.execute(
        select(Message.phone, Message.sent_at).where(
            among(session, Message.phone, phones),
            Message.purpose == "marketing",
            Message.direction == "out",
            Message.status.in_(SENT_STATUSES),
            Message.sent_at > now - timedelta(hours=24),
        )
    )
    recent: dict[str, list[datetime]] = {}
    for phone, sent_at in rows:
        recent.setdefault(phone, []).append(sent_at)
    return recent
