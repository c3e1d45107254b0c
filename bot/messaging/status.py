"""Delivery status: what happens when a message is sent, refused, blocked, delivered or fails."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.carriers.base import StatusUpdate
from bot.compliance import consent
from bot.phone import mask
from bot.services import Services
from bot.slack import outbox
from storage.models import Contact, Conversation, Message, StatusEvent
from storage.states import MESSAGE_FLOW, MessageStatus

log = logging.getLogger(__name__)

# What a delivery receipt may set; receipts arriving out of order never move a message back (MESSAGE_FLOW).
_RECEIPT_STATUSES = {
    MessageStatus.ACCEPTED,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.UNDELIVERED,
    MessageStatus.FAILED,
}
_REACTION_FOR = {MessageStatus.SENT: "outbox_tray", MessageStatus.DELIVERED: "white_check_mark"}
# What each reaction replaces: only the reactions of earlier states can be on the message.
_REPLACES = {
    "outbox_tray": [],
    "white_check_mark": ["outbox_tray"],
    "x": ["outbox_tray", "white_check_mark"],
    "no_entry": [],
}


async def record_status(services: Services, update: StatusUpdate, message_id: int | None = None) -> None:
    """Store a delivery receipt, then apply it to its message if that message is known yet.

    `message_id`: the bridge's id from the callback URL. A receipt for a message whose send has an unknown
    outcome (the carrier's answer was lost) settles it: the carrier has it, under this MessageSid."""
    async with services.db.session() as session:
        session.add(
            StatusEvent(
                carrier_sid=update.carrier_sid,
                status=update.status,
                error_code=update.error_code,
                message_id=message_id,
            )
        )
        await session.flush()
        message = await session.scalar(select(Message).where(Message.carrier_sid == update.carrier_sid))
        if message is None and message_id is not None:
            message = await session.get(Message, message_id)
            if message is None or not outcome_unknown(message):
                return
            log.info("message %s: the carrier's receipt settles its lost answer (%s)", message.id, update.carrier_sid)
            await settle_sent(session, services, message, update.carrier_sid, services.clock.now())
        if message is not None:
            await apply_stored_statuses(session, services, [message])


def outcome_unknown(message: Message) -> bool:
    """A send whose answer from the carrier was lost, not settled yet."""
    return (
        message.status == MessageStatus.SENDING
        and message.carrier_sid is None
        and message.outcome_unknown_since is not None
    )


async def settle_sent(
    session: AsyncSession, services: Services, message: Message, carrier_sid: str, now: datetime
) -> None:
    """A send whose outcome was unknown: the carrier has it, as `carrier_sid`."""
    message.status, message.carrier_sid, message.sent_at = MessageStatus.SENT, carrier_sid, now
    message.claim_until = message.claimed_by = message.outcome_unknown_since = None
    message.error_code = message.error_message = None
    await after_send(session, services, message)


async def apply_stored_statuses(session: AsyncSession, services: Services, messages: list[Message]) -> None:
    """Apply receipts that arrived for these messages (possibly before we recorded their carrier ids)."""
    by_sid = {m.carrier_sid: m for m in messages if m.carrier_sid}
    if not by_sid:
        return
    events = (
        await session.scalars(
            select(StatusEvent)
            .where(StatusEvent.carrier_sid.in_(by_sid), StatusEvent.applied.is_(False))
            .order_by(StatusEvent.id)
        )
    ).all()
    for event in events:
        event.applied = True
        await _apply(session, services, by_sid[event.carrier_sid], event.status, event.error_code)


async def apply_late_receipts(services: Services, limit: int = 500) -> None:
    """Apply receipts that raced the recording of their message.

    A receipt can be stored while the transaction recording its message's carrier id is still open;
    neither then sees the other. This sweep (run by the sender every second) applies such receipts
    once both are committed. Rows are locked SKIP LOCKED, so replicas share the sweep.
    """
    async with services.db.session() as session:
        sids = list(
            (
                await session.scalars(
                    select(StatusEvent.carrier_sid)
                    .join(Message, Message.carrier_sid == StatusEvent.carrier_sid)
                    .where(StatusEvent.applied.is_(False))
                    .limit(limit)
                    .with_for_update(of=StatusEvent, skip_locked=True)
                )
            ).all()
        )
        if sids:
            messages = list((await session.scalars(select(Message).where(Message.carrier_sid.in_(set(sids))))).all())
            await apply_stored_statuses(session, services, messages)


async def _apply(
    session: AsyncSession, services: Services, message: Message, status: str, error_code: int | None
) -> None:
    if status not in _RECEIPT_STATUSES or not MESSAGE_FLOW.allows(message.status, status):
        return
    status = message.status = MESSAGE_FLOW.state(status)
    if status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
        message.error_code = error_code
        message.error_message = services.carrier_for(message.line_id).describe(error_code)
        await after_failure(session, services, message)
        return
    await _react(session, message, _REACTION_FOR.get(status))
    await _tell_listeners(session, services, message)


async def after_send(session: AsyncSession, services: Services, message: Message) -> None:
    """The carrier accepted the message."""
    await _react(session, message, "outbox_tray")
    await _tell_listeners(session, services, message)


async def after_failure(session: AsyncSession, services: Services, message: Message) -> None:
    """The carrier refused the message or could not deliver it: record consequences, tell the thread."""
    code = message.error_code
    carrier = services.carrier_for(message.line_id)
    kind = carrier.error_kind(code)
    if kind == "opted_out":
        await consent.record(
            session,
            phone=message.phone,
            action="opt_out",
            source="carrier",
            line_id=message.line_id,
            evidence=f"{carrier.name} error {code}: {carrier.describe(code)}",
        )
    number_status = kind if kind in ("invalid", "landline") else None
    if number_status is not None:
        await mark_number(session, message.phone, number_status, carrier.describe(code))
    await _react(session, message, "x")
    conversation = await _conversation(session, message)
    if conversation is not None:
        await outbox.enqueue(
            session,
            channel=conversation.channel,
            op="post",
            conversation_id=conversation.id,
            payload={"text": f":x: Not delivered to the customer: {message.error_message or 'unknown error'}"},
        )
        if kind is not None:
            await outbox.enqueue(
                session, channel=conversation.channel, op="update_card", conversation_id=conversation.id
            )
    log.info("message %s to %s failed: %s", message.id, mask(message.phone), message.error_message)
    await _tell_listeners(session, services, message)


async def notify_blocked(session: AsyncSession, services: Services, message: Message) -> None:
    """The gate refused the message: show it on the message and tell the person who wrote it."""
    await _react(session, message, "no_entry")
    if message.origin == "slack" and message.slack_channel and message.origin_ref:
        conversation = await _conversation(session, message)
        await outbox.enqueue(
            session,
            channel=message.slack_channel,
            op="ephemeral",
            payload={
                "user": message.origin_ref,
                "thread_ts": conversation.thread_ts if conversation else None,
                "text": f":no_entry: Your text was not sent: {message.error_message}.",
            },
        )
    await _tell_listeners(session, services, message)


async def mark_number(session: AsyncSession, phone: str, status: str, reason: str) -> None:
    """Remember that a number cannot take texts (invalid, landline); campaigns skip it."""
    contact = await session.scalar(select(Contact).where(Contact.phone == phone))
    if contact is None:
        contact = Contact(phone=phone)
        session.add(contact)
    contact.number_status, contact.number_status_reason = status, reason
    await session.flush()


async def _conversation(session: AsyncSession, message: Message) -> Conversation | None:
    if message.conversation_id is None:
        return None
    return await session.get(Conversation, message.conversation_id)


async def _react(session: AsyncSession, message: Message, name: str | None) -> None:
    if name is None or not message.slack_channel:
        return
    await outbox.enqueue(
        session,
        channel=message.slack_channel,
        op="react",
        message_id=message.id,
        # Its Slack message's ts when it is known now (an agent's reply), so the reaction needs no read of the
        # message; a text the outbox has yet to post gets its ts from the message once that post is done.
        payload={"name": name, "remove": _REPLACES[name], **({"ts": message.slack_ts} if message.slack_ts else {})},
    )


def needs_side_effects(services: Services, slack_channel: str | None, origin: str) -> bool:
    """Whether a status change of such a message has anything to do beyond storing the status."""
    return bool(slack_channel) or origin in services.status_listeners


async def _tell_listeners(session: AsyncSession, services: Services, message: Message) -> None:
    for listener in services.status_listeners.get(message.origin, ()):
        await listener(session, message)
