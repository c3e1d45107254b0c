"""The one way any part of the bot asks for a text to be sent: store the intent, then the sender sends it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Executable, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compliance.segments import analyze
from bot.cooperative import paced
from bot.lines import KnownLine
from bot.services import Services
from storage.bulk import insert_rows
from storage.db import insert_for
from storage.models import Message
from storage.states import MessageStatus

# "compliance" is only for keyword answers (STOP/START confirmations, HELP): they go out even after an opt-out.
PURPOSES = ("conversational", "marketing", "transactional", "compliance")


async def queue_sms(
    session: AsyncSession,
    *,
    line: KnownLine,
    phone: str,
    body: str,
    origin: str,
    purpose: str = "conversational",
    origin_ref: str | None = None,
    conversation_id: int | None = None,
    media: list[dict] | None = None,
    dedupe_key: str | None = None,
    slack_channel: str | None = None,
    slack_ts: str | None = None,
    not_before: datetime | None = None,
    claim: Mapping[str, Any] | None = None,
) -> Message | None:
    """Store an outbound message as `queued` in the caller's transaction, or, with `claim` (the values
    `services.send_now.claim` gave), as claimed by this process's sender, to be handed to it once the
    transaction commits.

    Returns None when `dedupe_key` was already used: the same request has been queued before.
    Consent, quiet hours and caps are checked by the sender at send time, not here.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"purpose {purpose!r} must be one of {', '.join(PURPOSES)}")
    info = analyze(body, smart_encoding=line.config.smart_encoding)
    values = {
        "line_id": line.id,
        "conversation_id": conversation_id,
        "direction": "out",
        "phone": phone,
        "body": info.text,
        "media": media or [],
        "dedupe_key": dedupe_key,
        "status": MessageStatus.QUEUED,
        "segments": max(1, info.segments),
        "encoding": info.encoding,
        "purpose": purpose,
        "origin": origin,
        "origin_ref": origin_ref,
        "slack_channel": slack_channel,
        "slack_ts": slack_ts,
        "next_attempt_at": not_before,
        **(claim or {}),
    }
    if dedupe_key is None:
        message = Message(**values)
        session.add(message)
        await session.flush()
        return message
    # One statement whether or not the key was used before, by an earlier request or a concurrent one.
    return await session.scalar(
        _insert_once(session.bind.dialect.name), values, execution_options={"populate_existing": True}
    )


@cache
def _insert_once(dialect: str) -> Executable:
    """INSERT a message unless its dedupe key was used, returning it; the values are the execution's parameters.
    Built once per database kind: building it, with the values in it, cost about a millisecond each time (see
    storage.bulk.among_bound)."""
    table = Message.__table__
    insert = insert_for(dialect)(table).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(*table.c)
    return select(Message).from_statement(insert)


async def queue_many(session: AsyncSession, *, line: KnownLine, requests: list[dict]) -> dict[str, int]:
    """Queue many texts on one line in one statement; return {dedupe_key: message id} for every request.

    Each request is a dict with phone, body, dedupe_key (required: that is what makes a retried batch
    harmless), origin, purpose and optionally origin_ref. Keys queued before keep their first message.
    """
    if not requests:
        return {}
    rows = []
    async for request in paced(requests):
        if request.get("purpose", "conversational") not in PURPOSES:
            raise ValueError(f"purpose {request['purpose']!r} must be one of {', '.join(PURPOSES)}")
        info = analyze(request["body"], smart_encoding=line.config.smart_encoding)
        rows.append(
            {
                "line_id": line.id,
                "direction": "out",
                "phone": request["phone"],
                "body": info.text,
                "media": [],
                "dedupe_key": request["dedupe_key"],
                "status": MessageStatus.QUEUED,
                "segments": max(1, info.segments),
                "encoding": info.encoding,
                "purpose": request.get("purpose", "conversational"),
                "origin": request["origin"],
                "origin_ref": request.get("origin_ref"),
            }
        )
    table = Message.__table__  # a campaign queues a row per recipient: one statement, one parameter
    inserted = await insert_rows(
        session, table, rows, on_conflict_do_nothing=["dedupe_key"], returning=(table.c.id, table.c.dedupe_key)
    )
    assert inserted is not None  # rows is not empty, and insert_rows was asked to return
    ids = {key: message_id for message_id, key in inserted.all()}
    missing = [row["dedupe_key"] for row in rows if row["dedupe_key"] not in ids]
    if missing:
        found = await session.execute(select(Message.id, Message.dedupe_key).where(Message.dedupe_key.in_(missing)))
        ids.update({key: message_id for message_id, key in found.all()})
    return ids


async def claim_now(
    services: Services, session: AsyncSession, *, line: KnownLine, phone: str, purpose: str, media: list | None = None
) -> dict[str, Any] | None:
    """For a text someone waits for (an agent's reply, a code, an API text due now): the values that queue it
    claimed by this process's sender (`queue_sms(claim=...)`), when the send gate lets it go now; None when it
    waits for the sender's next batch like any other text (no sender here, or not now)."""
    if services.send_now is None:
        return None
    return await services.send_now.claim(session, line_id=line.id, phone=phone, purpose=purpose, media=media or [])


def hand_or_wake(services: Services, message: Message | None) -> None:
    """After the transaction that queued `message` (None: nothing was queued) has committed: hand it to the sender
    if it was queued claimed (the sender wakes the outbox once it has recorded the send: the customer's text
    first, Slack after); otherwise wake the sender and the outbox."""
    if message is not None and message.status == MessageStatus.SENDING and services.send_now is not None:
        services.send_now.hand(message)
        return
    services.wakeups.poke_sender()
    services.wakeups.poke_outbox()
