"""API keys: made, listed and revoked with `sms-bridge api-key`, checked on every `/api/v1` request.

A token is 32 random bytes from `secrets`; only its SHA-256 is stored (a token that random needs no slow hash),
and it is compared in constant time. `[notify] api_tokens` from the TOML file keep working, with every scope.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import Services
from bot.settings import hash_token
from storage.models.api import ApiKey

SCOPES = ("messages", "verify", "notify")
TOKEN_PREFIX = "sbk_"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per key
CONFIG_KEY_NAME = "config token"


class ApiKeyError(ValueError):
    """A key cannot be made or found; the message says why."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key's name and scopes; `key_id` None for a token from the TOML file."""

    name: str
    scopes: frozenset[str]
    token_hash: str
    key_id: int | None = None

    def may(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass(frozen=True)
class NewKey:
    name: str
    scopes: tuple[str, ...]
    token: str
    callback_secret: str


def parse_scopes(raw: str) -> tuple[str, ...]:
    scopes = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if not scopes or unknown:
        raise ApiKeyError(f"--scopes: {', '.join(unknown) or 'nothing given'}; choose from {', '.join(SCOPES)}")
    return scopes


async def create(session: AsyncSession, name: str, scopes: tuple[str, ...]) -> NewKey:
    if not NAME.match(name):
        raise ApiKeyError(f"NAME: {name[:70]!r} must be 1-64 letters, digits, '.', '_' or '-'")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    secret = secrets.token_hex(32)
    try:
        async with session.begin_nested():
            session.add(
                ApiKey(name=name, scopes=",".join(scopes), token_hash=hash_token(token), callback_secret=secret)
            )
    except IntegrityError:
        raise ApiKeyError(f"a key named {name!r} exists already (revoked keys keep their names)") from None
    return NewKey(name, scopes, token, secret)


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    return list((await session.scalars(select(ApiKey).order_by(ApiKey.id))).all())


async def revoke(session: AsyncSession, name: str, now: datetime) -> None:
    key = await session.scalar(select(ApiKey).where(ApiKey.name == name))
    if key is None:
        raise ApiKeyError(f"no key named {name[:70]!r}")
    if key.revoked_at is None:
        key.revoked_at = now


async def authenticate(services: Services, token: str) -> Principal | None:
    """The caller a bearer token stands for, or None. A revoked key is refused at once."""
    presented = hash_token(token)
    matched = False
    for known in services.settings.notify.api_token_hashes:
        matched |= hmac.compare_digest(presented, known)  # no early exit: same work whichever token matches
    if matched:
        return Principal(CONFIG_KEY_NAME, frozenset(SCOPES), presented)
    now = services.clock.now()
    keys = ApiKey.__table__.c
    # One round trip on PostgreSQL (no BEGIN/COMMIT): this runs before every request.
    async with services.db.autocommit() as conn:
        key = (
            await conn.execute(
                select(keys.id, keys.name, keys.scopes, keys.token_hash, keys.revoked_at, keys.last_used_at).where(
                    keys.token_hash == presented
                )
            )
        ).first()
        if key is None or key.revoked_at is not None or not hmac.compare_digest(key.token_hash, presented):
            return None
        if key.last_used_at is None or key.last_used_at < now - LAST_USED_EVERY:
            await conn.execute(update(ApiKey.__table__).where(keys.id == key.id).values(last_used_at=now))
    return Principal(key.name, frozenset(key.scopes.split(",")), presented, key.id)


async def callback_secret(session: AsyncSession, key_id: int) -> str | None:
    return await session.scalar(select(ApiKey.callback_secret).where(ApiKey.id == key_id))
