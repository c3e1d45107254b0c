"""Outbound MMS media: bytes kept in the database, served to the carrier through signed, expiring links."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import Services
from bot.validation import InvalidInput, parse_digits
from storage.models import Media

LINK_LIFETIME = timedelta(hours=24)
MAX_MEDIA_BYTES = 5 * 1024 * 1024
MAX_EXPIRY = 2**40  # epoch seconds, far beyond any link's lifetime


async def store(session: AsyncSession, *, data: bytes, content_type: str, filename: str = "") -> Media:
    media = Media(id=secrets.token_hex(16), content_type=content_type, filename=filename, data=data)
    session.add(media)
    await session.flush()
    return media


async def fetch(services: Services, media_id: str) -> Media | None:
    """The stored file with that id, if there is one."""
    async with services.db.session() as session:
        return await session.get(Media, media_id)


def _signature(secret: str, media_id: str, expires: int) -> str:
    digest = hmac.new(secret.encode(), f"{media_id}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def make_token(secret: str, media_id: str, now: datetime) -> str:
    """`{id}.{expiry epoch}.{signature}`: anyone holding it may fetch that one file until it expires."""
    expires = int((now + LINK_LIFETIME).timestamp())
    return f"{media_id}.{expires}.{_signature(secret, media_id, expires)}"


def read_token(secret: str, token: str, now: datetime) -> str | None:
    """The media id a token grants, or None if it is malformed, forged or expired."""
    parts = token.split(".")
    # Tokens are ASCII (hex, digits, urlsafe base64); hmac.compare_digest raises on any other str.
    if len(parts) != 3 or not token.isascii():
        return None
    try:
        expires = parse_digits(parts[1], "expiry", maximum=MAX_EXPIRY)
    except InvalidInput:
        return None
    media_id, signature = parts[0], parts[2]
    if not hmac.compare_digest(signature, _signature(secret, media_id, expires)):
        return None
    if now.timestamp() > expires:
        return None
    return media_id
