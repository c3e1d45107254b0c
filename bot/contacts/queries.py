"""Reads and writes of one contact, for the contacts service."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Contact, ContactTag, Conversation


async def by_phone(session: AsyncSession, phone: str) -> Contact | None:
    return await session.scalar(select(Contact).where(Contact.phone == phone))


async def get_or_create(session: AsyncSession, phone: str) -> Contact:
    """The contact for `phone`, created if new (safe against a concurrent create)."""
    found = await by_phone(session, phone)
    if found is not None:
        return found
    try:
        async with session.begin_nested():
            contact = Contact(phone=phone, phone_checked=True)
            session.add(contact)
        return contact
    except IntegrityError:
        return (await session.scalars(select(Contact).where(Contact.phone == phone))).one()


async def tags(session: AsyncSession, contact_id: int) -> list[str]:
    query = select(ContactTag.tag).where(ContactTag.contact_id == contact_id).order_by(ContactTag.tag)
    return list((await session.scalars(query)).all())


async def set_tags(session: AsyncSession, contact_id: int, wanted: list[str]) -> tuple[list[str], list[str]]:
    """Make the contact's tags exactly `wanted`; returns (added, removed)."""
    have = set(await tags(session, contact_id))
    added = [tag for tag in wanted if tag not in have]
    removed = sorted(have - set(wanted))
    if removed:
        await session.execute(
            delete(ContactTag).where(ContactTag.contact_id == contact_id, ContactTag.tag.in_(removed))
        )
    for tag in added:
        session.add(ContactTag(contact_id=contact_id, tag=tag))
    await session.flush()
    return added, removed


async def conversations_of(session: AsyncSession, phone: str) -> list[Conversation]:
    return list((await session.scalars(select(Conversation).where(Conversation.phone == phone))).all())
