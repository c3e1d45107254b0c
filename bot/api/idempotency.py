"""`Idempotency-Key`: the first answer to a POST is stored with what it did, in the same transaction, and
answered again to a retry with the same body; a retry with another body is refused (422)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.api.rules import ApiError
from storage.models.api import ApiIdempotency


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict
    replayed: bool = False


@dataclass(frozen=True)
class Key:
    """One POST's idempotency key, scoped to its caller and route, with the hash of its body."""

    scoped: str
    request_hash: str


def scoped(caller: str, route: str, key: str | None, request_hash: str) -> Key | None:
    return None if key is None else Key(f"{caller}:{route}:{key}", request_hash)


async def earlier(session: AsyncSession, key: Key | None) -> Answer | None:
    """The answer given before under this key, if any; 422 when it was given to another body."""
    if key is None:
        return None
    row = await session.get(ApiIdempotency, key.scoped)
    if row is None:
        return None
    if row.request_hash != key.request_hash:
        raise ApiError(422, "idempotency_key_reused", "Idempotency-Key: was used before with a different request body")
    return Answer(row.status, row.response, replayed=True)


async def remember(session: AsyncSession, key: Key | None, answer: Answer) -> Answer:
    """Store the answer under the key (a concurrent twin's insert makes the transaction fail: IntegrityError)."""
    if key is not None:
        session.add(
            ApiIdempotency(key=key.scoped, request_hash=key.request_hash, status=answer.status, response=answer.body)
        )
        await session.flush()
    return answer
