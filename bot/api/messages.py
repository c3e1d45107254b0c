"""Texts other systems send through `POST /api/v1/messages`: stored (with the queued message, its Slack post and
the idempotent answer) in one transaction before the 202, then sent by the one sender like every other text.

A scheduled text is a queued message whose `next_attempt_at` is its `send_at`: the sender takes it when it is
due, once, on whichever replica claims it. Canceling moves it from queued to cancelled with a conditional UPDATE,
so a text the sender has claimed is no longer canceled (409).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.api import callbacks, idempotency, views
from bot.api.keys import Principal
from bot.api.rules import ApiError, MessageRequest, api_error, api_status, check_callback_host, iso
from bot.campaigns.template import finish
from bot.compliance import consent
from bot.conversations import queries as conversations
from bot.lines import KnownLine
from bot.messaging.outbound import claim_now, hand_or_wake, queue_sms
from bot.phone import mask
from bot.services import Services
from bot.slack import outbox
from storage.db import changed
from storage.models import Conversation, Message
from storage.models.api import ApiMessage
from storage.states import MESSAGE_FLOW, MessageStatus

log = logging.getLogger(__name__)

ORIGIN = "api"
ID_PREFIX = "msg_"
CANCELABLE = (MessageStatus.QUEUED, MessageStatus.HELD)


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


async def open_thread(
    session: AsyncSession, services: Services, line: KnownLine, phone: str
) -> tuple[Conversation, bool]:
    """The customer's conversation on the line (opened if there is none), and whether it is new."""
    conversation, created = await conversations.get_or_create(
        session, line_id=line.id, phone=phone, channel=line.config.channel
    )
    conversation.last_activity_at = services.clock.now()
    return conversation, created


async def post_in_thread(
    session: AsyncSession, conversation: Conversation, created: bool, message: Message, text: str
) -> None:
    """Show `text` in the conversation's thread (posting its card first when it is new), tied to the message so
    its delivery reactions land on the post. Written with the transaction's next flush, in one INSERT."""
    channel = conversation.channel
    await outbox.enqueue(
        session,
        channel=channel,
        op="post_root" if created else "update_card",
        conversation_id=conversation.id,
        flush=False,
    )
    await outbox.enqueue(
        session,
        channel=channel,
        op="post",
        conversation_id=conversation.id,
        message_id=message.id,
        payload={"text": text},
        flush=False,
    )


async def refuse_opted_out(session: AsyncSession, phone: str, line: KnownLine, category: str) -> None:
    state = await consent.current(session, phone, line.id, category)
    if state.opted_out:
        source = f" ({state.source})" if state.source else ""
        raise ApiError(422, "opted_out", f"to: {phone} opted out of {line.config.key}{source}; nothing is sent to it")
    if category == "marketing" and not state.opted_in:
        raise ApiError(422, "no_opt_in", f"to: {phone} has no marketing opt-in on record for {line.config.key}")


async def create(
    services: Services, caller: Principal, request: MessageRequest, key: idempotency.Key | None
) -> idempotency.Answer:
    """Store the text and everything that follows from it; the answer to give (or the one given before)."""
    if request.status_callback and caller.key_id is None:
        raise ApiError(
            422,
            "callback_needs_key",
            "status_callback: callbacks are signed with a key's secret; use a key made with `sms-bridge api-key "
            "create` (tokens from the configuration file have none)",
        )
    if request.status_callback:
        await check_callback_host(request.status_callback, allow_private=services.settings.api.allow_private_callbacks)
    try:
        async with services.db.session() as session:
            earlier = await idempotency.earlier(session, key)
            if earlier is not None:
                return earlier
            answer, message = await _insert(session, services, caller, request, key)
    except IntegrityError:
        async with services.db.session() as session:  # a concurrent twin with the same key won the race
            earlier = await idempotency.earlier(session, key)
        if earlier is None:
            raise
        return earlier
    hand_or_wake(services, message)
    return answer


async def _insert(
    session: AsyncSession,
    services: Services,
    caller: Principal,
    request: MessageRequest,
    key: idempotency.Key | None,
) -> tuple[idempotency.Answer, Message | None]:
    """Queue the text (claimed for this process's sender when it is due now, see `claim_now`); the answer, and
    the text (for `hand_or_wake` once the transaction commits)."""
    await refuse_opted_out(session, request.to, request.line, request.category)
    api_id = new_id(ID_PREFIX)
    body = request.text
    if request.category == "marketing":
        body = finish(body, "marketing", services.settings.compliance.footer)
    conversation, created = await open_thread(session, services, request.line, request.to)
    now = services.clock.now()
    claim = None
    if request.send_at is None or request.send_at <= now:
        claim = await claim_now(services, session, line=request.line, phone=request.to, purpose=request.category)
    message = await queue_sms(
        session,
        line=request.line,
        phone=request.to,
        body=body,
        origin=ORIGIN,
        purpose=request.category,
        origin_ref=api_id,  # a fresh random id: no dedupe key needed (retries are met by Idempotency-Key)
        conversation_id=conversation.id,
        slack_channel=request.line.config.channel,
        not_before=request.send_at,
        claim=claim,
    )
    assert message is not None  # queued without a dedupe key: never refused as a repeat
    session.add(
        ApiMessage(
            id=api_id,
            key_name=caller.name,
            key_id=caller.key_id,
            message_id=message.id,
            category=request.category,
            template=request.template,
            send_at=request.send_at,
            metadata_=request.metadata,
            status_callback=request.status_callback,
            created_at=services.clock.now(),
        )
    )
    text = views.sent_by_api(caller.name, body, category=request.category, send_at=request.send_at)
    await post_in_thread(session, conversation, created, message, text)
    # Answered before it is handed to the sender: queued, whether or not it was claimed as it was.
    status = api_status(MessageStatus.QUEUED if claim else message.status, request.send_at, now)
    log.info("api: %s queued %s to %s (%s)", caller.name, api_id, mask(request.to), status)
    answer = idempotency.Answer(
        202, {"id": api_id, "status": status, "segments": message.segments, "encoding": message.encoding}
    )
    return await idempotency.remember(session, key, answer), message


def describe(row: ApiMessage, message: Message, line_key: str, now: Any) -> dict:
    """The message as `GET /api/v1/messages/{id}` and its status callbacks show it."""
    return {
        "id": row.id,
        "to": message.phone,
        "line": line_key,
        "status": api_status(message.status, row.send_at, now),
        "error": api_error(message.status, message.error_code, message.error_message),
        "segments": message.segments,
        "created_at": iso(row.created_at),
        "send_at": iso(row.send_at),
        "sent_at": iso(message.sent_at),
        "delivered_at": iso(row.delivered_at),
        "metadata": row.metadata_ or {},
    }


async def _load(session: AsyncSession, api_id: str, caller: Principal) -> tuple[ApiMessage, Message]:
    # One statement, so one snapshot on PostgreSQL: read one after the other, a delivery committed in between
    # would show as "delivered" with no delivered_at.
    found = (
        await session.execute(
            select(ApiMessage, Message)
            .join(Message, Message.id == ApiMessage.message_id)
            .where(ApiMessage.id == api_id)
        )
    ).one_or_none()
    if found is None or not _visible(found[0], caller):
        raise ApiError(404, "not_found", f"id: no message {api_id[:40]!r}")
    return found[0], found[1]


def _visible(row: ApiMessage, caller: Principal) -> bool:
    """A key sees the messages it sent; tokens from the configuration file see every message."""
    return caller.key_id is None or row.key_id == caller.key_id


def _line_key(services: Services, line_id: int) -> str:
    line = services.lines.by_id(line_id)
    return line.config.key if line else ""


async def get(services: Services, caller: Principal, api_id: str) -> dict:
    async with services.db.session() as session:
        row, message = await _load(session, api_id, caller)
        return describe(row, message, _line_key(services, message.line_id), services.clock.now())


async def cancel(services: Services, caller: Principal, api_id: str) -> dict:
    """Cancel a text not yet taken by the sender (scheduled or queued); 409 once it has been."""
    async with services.db.session() as session:
        row, message = await _load(session, api_id, caller)
        done = await session.execute(
            update(Message)
            .where(Message.id == message.id, MESSAGE_FLOW.where(Message.status, CANCELABLE, MessageStatus.CANCELLED))
            .values(status=MessageStatus.CANCELLED, next_attempt_at=None)
            .execution_options(synchronize_session=False)
        )
        await session.refresh(message)
        now = services.clock.now()
        if changed(done) != 1:
            current = api_status(message.status, row.send_at, now)
            raise ApiError(409, "not_cancelable", f"id: {api_id} is {current}; only a scheduled or queued text cancels")
        if message.slack_channel and message.conversation_id:
            await outbox.enqueue(
                session,
                channel=message.slack_channel,
                op="post",
                conversation_id=message.conversation_id,
                payload={"text": views.canceled(caller.name)},
            )
        await on_status(session, services, message)
        state = describe(row, message, _line_key(services, message.line_id), now)
    services.wakeups.poke_outbox()
    return state


async def on_status(session: AsyncSession, services: Services, message: Message) -> None:
    """Status listener of API texts: note delivery, and owe a callback when the status a caller sees changes."""
    if message.origin != ORIGIN or not (message.origin_ref or "").startswith(ID_PREFIX):
        return
    row = await session.scalar(select(ApiMessage).where(ApiMessage.message_id == message.id))
    if row is None:
        return
    now = services.clock.now()
    if message.status == MessageStatus.DELIVERED and row.delivered_at is None:
        row.delivered_at = now
    state = describe(row, message, _line_key(services, message.line_id), now)
    if state["status"] == row.reported_status:
        return
    row.reported_status = state["status"]
    if row.status_callback and row.key_id is not None:
        await callbacks.enqueue(session, row.id, row.key_id, row.status_callback, state, now)
