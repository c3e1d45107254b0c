"""Who a campaign goes to: the audience streamed in batches (never loaded whole), each contact classified."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compliance import consent, requests
from bot.compliance.gate import SENT_STATUSES
from bot.cooperative import paced
from bot.phone import InvalidPhoneNumber, parse_e164
from storage.bulk import among
from storage.models import ConsentEvent, Contact, ContactTag, Message

SKIP_REASONS = {
    "no_consent": "no consent",
    "opted_out": "opted out",
    "invalid": "invalid number",
    "landline": "landline",
    "frequency_cap": "frequency cap",
    "stop_request": "asked to stop (awaiting a decision)",
    "duplicate": "duplicate",
}


class AudienceError(ValueError):
    pass


def parse_audience(text: str) -> str:
    """`all`, `tag:X` or `list:NAME` (a list is the set of contacts tagged `list:NAME` by an import)."""
    value = (text or "").strip()
    if value.lower() == "all":
        return "all"
    kind, _, name = value.partition(":")
    if kind.lower() in ("tag", "list") and name.strip() and len(name) <= 60:
        return f"{kind.lower()}:{name.strip()}"
    raise AudienceError(f"audience {value!r} must be all, tag:NAME or list:NAME")


async def list_exists(session: AsyncSession, audience: str) -> bool:
    """Whether `list:NAME` names a list some contact is on."""
    _kind, _, name = audience.partition(":")
    found = await session.scalar(select(ContactTag.contact_id).where(ContactTag.tag == f"list:{name}").limit(1))
    return found is not None


def audience_filter(audience: str):
    if audience == "all":
        return None
    kind, _, name = audience.partition(":")
    tag = name if kind == "tag" else f"list:{name}"
    return Contact.id.in_(select(ContactTag.contact_id).where(ContactTag.tag == tag))


# What a campaign reads of a contact; plain rows, not ORM objects, since a campaign reads every contact.
_CONTACT_COLUMNS = (
    Contact.id,
    Contact.phone,
    Contact.phone_checked,
    Contact.first_name,
    Contact.last_name,
    Contact.number_status,
)


async def contact_batch(session: AsyncSession, audience: str, after_id: int, limit: int) -> list:
    """The next `limit` contacts of the audience with id > after_id, in id order (rows with id, phone,
    phone_checked, first_name, last_name and number_status)."""
    query = select(*_CONTACT_COLUMNS).where(Contact.id > after_id).order_by(Contact.id).limit(limit)
    condition = audience_filter(audience)
    if condition is not None:
        query = query.where(condition)
    return list((await session.execute(query)).all())


@dataclass
class Classified:
    contact: Any  # a row of contact_batch
    phone: str  # E.164, or the stored text when it cannot be parsed
    reason: str | None  # None: eligible


async def classify(
    session: AsyncSession, contacts: list, *, line_id: int, purpose: str, now: datetime, frequency_cap: int
) -> list[Classified]:
    """Why each contact would be skipped (None: eligible), with set-based queries per batch.

    The same rules as the send gate (bot.compliance.gate), applied up front so the preview can count them;
    the gate still decides at send time.
    """
    out: list[Classified] = []
    phones: list[str] = []
    async for contact in paced(contacts):
        if contact.phone_checked:
            phone = contact.phone
        else:
            try:
                phone = parse_e164(contact.phone)
            except InvalidPhoneNumber:
                out.append(Classified(contact, contact.phone[:40], "invalid"))
                continue
        reason = contact.number_status if contact.number_status in ("invalid", "landline") else None
        out.append(Classified(contact, phone, reason))
        phones.append(phone)
    if not phones:
        return out
    events: defaultdict[str, list[consent.ConsentFact]] = defaultdict(list)
    rows = await session.execute(
        select(*consent.STATE_COLUMNS)
        .where(
            among(session, ConsentEvent.phone, phones),
            or_(ConsentEvent.line_id == line_id, ConsentEvent.line_id.is_(None)),
        )
        .order_by(ConsentEvent.id.desc())
    )
    for event in rows:
        events[event.phone].append(event)
    recent: dict[str, int] = {}
    held: set[str] = set()
    if purpose == "marketing":
        held = await requests.held(session, phones)
        counted = await session.execute(
            select(Message.phone, func.count(Message.id))
            .where(
                among(session, Message.phone, phones),
                Message.purpose == "marketing",
                Message.direction == "out",
                Message.status.in_(SENT_STATUSES),
                Message.sent_at > now - timedelta(hours=24),
                Message.sent_at <= now,
            )
            .group_by(Message.phone)
        )
        recent = {phone: count for phone, count in counted}
    for item in out:
        if item.reason is not None or item.phone not in events and purpose != "marketing":
            continue
        state = consent.state_from(events.get(item.phone, []), purpose)
        if state.opted_out:
            item.reason = "opted_out"
        elif purpose == "marketing" and not state.opted_in:
            item.reason = "no_consent"
        elif purpose == "marketing" and item.phone in held:
            item.reason = "stop_request"
        elif purpose == "marketing" and recent.get(item.phone, 0) >= frequency_cap:
            item.reason = "frequency_cap"
    return out
