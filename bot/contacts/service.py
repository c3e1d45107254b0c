"""One contact at a time: read it, change its name, tags and notes (the card's *Edit contact*, the playground).

Input is checked first, as a whole: a bad field raises ContactInputError naming it and nothing is changed.
Every conversation of the number gets its card re-rendered in the same transaction as the change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.contacts import queries
from bot.contacts.csv_io import MAX_NAME, MAX_TAG
from bot.phone import InvalidPhoneNumber, parse_e164
from bot.services import Services
from bot.slack import outbox

MAX_NOTES = 2000
_TAG_SEPARATORS = re.compile(r"[,;|\n]")
_FORMULA_STARTS = ("=", "+", "-", "@")  # what a spreadsheet would run when the contacts are exported


class ContactInputError(ValueError):
    """A field of a contact edit is wrong; `field` names it (name, first_name, tags, notes, phone)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ContactView:
    phone: str
    first_name: str
    last_name: str
    tags: tuple[str, ...]
    notes: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def _text(value: object, field: str, label: str, limit: int, *, required: bool = False, lines: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ContactInputError(field, f"{label} must be text.")
    value = value.strip()
    if required and not value:
        raise ContactInputError(field, f"{label} cannot be empty.")
    if len(value) > limit:
        raise ContactInputError(field, f"{label} is {len(value)} characters long; at most {limit} are allowed.")
    if any(ord(ch) < 32 and not (lines and ch in "\n\t") for ch in value):
        raise ContactInputError(field, f"{label} contains control characters.")
    if value.startswith(_FORMULA_STARTS) and not lines:
        raise ContactInputError(field, f"{label} starts like a spreadsheet formula (= + - @); remove that character.")
    return value


def parse_tags(text: object) -> list[str]:
    """Tags from text separated by commas (or ; | newlines), in order, without repeats."""
    raw = _text(text, "tags", "Tags", MAX_TAG * 50, lines=True)
    found: list[str] = []
    for part in _TAG_SEPARATORS.split(raw):
        tag = _text(part, "tags", f"Tag {part.strip()!r}", MAX_TAG)
        if tag and tag not in found:
            found.append(tag)
    return found


async def read(services: Services, phone: str) -> ContactView:
    async with services.db.session() as session:
        contact = await queries.by_phone(session, phone)
        if contact is None:
            return ContactView(phone, "", "", (), "")
        return ContactView(
            phone, contact.first_name, contact.last_name, tuple(await queries.tags(session, contact.id)), contact.notes
        )


async def save(
    services: Services,
    phone: str,
    *,
    name: object = None,
    first_name: object = None,
    tags: object = None,
    notes: object = None,
) -> ContactView:
    """Create or change the contact of `phone`. `name` is the whole name (first word: first name, the rest: last
    name) and may not be empty; `first_name` changes only the first name; `tags` (text) replaces the tags;
    None leaves a field as it is."""
    try:
        phone = parse_e164(phone)
    except InvalidPhoneNumber as exc:
        raise ContactInputError("phone", str(exc)) from None
    names: tuple[str, str] | None = None
    if name is not None:
        whole = _text(name, "name", "Name", MAX_NAME, required=True)
        first, _, last = whole.partition(" ")
        names = (first, last.strip())
    first_only = _text(first_name, "first_name", "First name", MAX_NAME) if first_name is not None else None
    wanted_tags = parse_tags(tags) if tags is not None else None
    new_notes = _text(notes, "notes", "Notes", MAX_NOTES, lines=True) if notes is not None else None
    async with services.db.session() as session:
        contact = await queries.get_or_create(session, phone)
        if names is not None:
            contact.first_name, contact.last_name = names
        if first_only is not None:
            contact.first_name = first_only
        if new_notes is not None:
            contact.notes = new_notes
        await session.flush()
        if wanted_tags is not None:
            await queries.set_tags(session, contact.id, wanted_tags)
        for conversation in await queries.conversations_of(session, phone):
            await outbox.enqueue(
                session, channel=conversation.channel, op="update_card", conversation_id=conversation.id
            )
        view = ContactView(
            phone, contact.first_name, contact.last_name, tuple(await queries.tags(session, contact.id)), contact.notes
        )
    services.wakeups.poke_outbox()
    return view
