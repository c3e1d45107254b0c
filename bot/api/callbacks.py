"""Status callbacks: a durable outbox of signed POSTs to the URL a caller gave with its text.

Each status change a caller sees is a row (stored in the transaction that changed the status), holding the exact
body to send. A periodic scan claims due rows with a lease (a conditional UPDATE, so one replica takes each
row), POSTs them signed with the key's callback secret, and marks them done on a 2xx; anything else is retried
with backoff until `give_up_at`, 24 hours after the change. Rows of one message go out in order: a row waits
while an earlier one of its message is still owed. Delivery re-checks the addresses the host resolves to (a
name may resolve differently than when the text was accepted) and follows no redirects.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.api import keys
from bot.api.rules import SIGNATURE_HEADER, encode_body, refused_address, sign
from bot.services import Services
from storage.db import changed
from storage.models.api import ApiCallback
from storage.states import OUTBOX_FLOW, OutboxStatus

log = logging.getLogger(__name__)

SCAN_SECONDS = 0.5
BATCH = 50
LEASE_SECONDS = 30  # longer than one POST may take
TIMEOUT_SECONDS = 10
RETRY_FOR = timedelta(hours=24)
MAX_BACKOFF = 3600.0
USER_AGENT = "sms-bridge-callbacks/1"


async def enqueue(
    session: AsyncSession, api_message_id: str, key_id: int, url: str, state: dict, now: datetime
) -> ApiCallback:
    row = ApiCallback(
        api_message_id=api_message_id,
        key_id=key_id,
        url=url,
        body=encode_body(state),
        status=OutboxStatus.PENDING,
        next_attempt_at=now,
        give_up_at=now + RETRY_FOR,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


class PublicOnlyResolver(AbstractResolver):
    """Resolves as aiohttp does, keeping only public addresses (unless private callbacks are allowed)."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = DefaultResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if self._allow_private:
            return results
        public = [result for result in results if not refused_address(result["host"])]
        if not public:
            raise OSError(f"{host} resolves to no public address; callbacks go to public addresses only")
        return public

    async def close(self) -> None:
        await self._inner.close()


class CallbackSender:
    """The scan that delivers due callbacks (see the module's docstring). One per process."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._http: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            connector = aiohttp.TCPConnector(
                resolver=PublicOnlyResolver(self.services.settings.api.allow_private_callbacks), limit=50
            )
            self._http = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
                headers={"User-Agent": USER_AGENT},
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def deliver_due(self) -> int:
        """Claim and deliver the callbacks that are due; how many were tried."""
        rows = await self._claim()
        if rows:
            await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def _claim(self) -> list[Any]:
        now = self.services.clock.now()
        earlier = aliased(ApiCallback)
        async with self.services.db.session() as session:
            due = (
                select(ApiCallback.id)
                .where(ApiCallback.status == OutboxStatus.PENDING, ApiCallback.next_attempt_at <= now)
                .where((ApiCallback.claim_until.is_(None)) | (ApiCallback.claim_until < now))
                .where(
                    ~exists().where(
                        and_(
                            earlier.api_message_id == ApiCallback.api_message_id,
                            earlier.status == OutboxStatus.PENDING,
                            earlier.id < ApiCallback.id,
                        )
                    )
                )
                .order_by(ApiCallback.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True, of=ApiCallback)
            )
            ids = list((await session.scalars(due)).all())
            if not ids:
                return []
            claimed = await session.execute(
                update(ApiCallback)
                .where(ApiCallback.id.in_(ids), ApiCallback.status == OutboxStatus.PENDING)
                .where((ApiCallback.claim_until.is_(None)) | (ApiCallback.claim_until < now))
                .values(claim_until=now + timedelta(seconds=LEASE_SECONDS), attempts=ApiCallback.attempts + 1)
                .returning(ApiCallback.id, ApiCallback.key_id, ApiCallback.url, ApiCallback.body, ApiCallback.attempts)
            )
            rows = list(claimed.all())
            secrets_by_key = {row.key_id: await keys.callback_secret(session, row.key_id) for row in rows}
        return [(row, secrets_by_key.get(row.key_id)) for row in rows]

    async def _deliver(self, item: tuple[Any, str | None]) -> None:
        row, secret = item
        raw = row.body.encode()
        error: str | None = None
        if secret is None:
            error = "the key that sent this text no longer exists"
        else:
            headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, raw)}
            try:
                async with self._client().post(row.url, data=raw, headers=headers, allow_redirects=False) as resp:
                    await resp.read()
                    if not 200 <= resp.status < 300:
                        error = f"answered HTTP {resp.status}"
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                error = f"unreachable: {type(exc).__name__}: {str(exc)[:200]}"
        await self._record(row, error)

    async def _record(self, row: Any, error: str | None) -> None:
        now = self.services.clock.now()
        async with self.services.db.session() as session:
            mine = (ApiCallback.id == row.id, ApiCallback.status == OutboxStatus.PENDING)
            if error is None:
                values: dict[str, Any] = {"status": OutboxStatus.DONE, "claim_until": None, "last_error": None}
                where = OUTBOX_FLOW.where(ApiCallback.status, OutboxStatus.PENDING, OutboxStatus.DONE)
            else:
                delay = min(MAX_BACKOFF, 2.0 ** min(row.attempts, 12)) * random.uniform(0.8, 1.2)
                retry_at = now + timedelta(seconds=delay)
                give_up = await session.scalar(select(ApiCallback.give_up_at).where(ApiCallback.id == row.id))
                if give_up is not None and retry_at > give_up:
                    values = {"status": OutboxStatus.FAILED, "claim_until": None, "last_error": f"gave up: {error}"}
                    where = OUTBOX_FLOW.where(ApiCallback.status, OutboxStatus.PENDING, OutboxStatus.FAILED)
                    log.warning("api: status callback %s given up after %d attempts: %s", row.id, row.attempts, error)
                else:
                    values = {"claim_until": None, "next_attempt_at": retry_at, "last_error": error}
                    where = mine[1]
                    log.info("api: status callback %s retried in %.0fs: %s", row.id, delay, error)
            done = await session.execute(update(ApiCallback).where(mine[0], where).values(**values))
            if changed(done) != 1:
                log.warning("api: status callback %s was no longer ours to record", row.id)
