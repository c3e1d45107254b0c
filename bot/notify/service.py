"""Pages: create a notification, text each recipient once, keep its Slack message up to date, take ACKs.

Every step is rows in one transaction (notification, recipients, queued texts, outbox posts): a crash loses
nothing and a retried request (same idempotency key) sends nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compliance import consent
from bot.compliance.segments import analyze
from bot.lines import KnownLine
from bot.messaging.outbound import queue_sms
from bot.notify import roster, views
from bot.notify.roster import Member
from bot.phone import InvalidPhoneNumber, mask, parse_e164
from bot.services import Services
from bot.slack import mentions, outbox
from storage.models import Message
from storage.models.notify import Notification, NotificationRecipient
from storage.states import PAGE_FLOW, PAGE_RECIPIENT_FLOW, MessageStatus, PageRecipientState, PageStatus

log = logging.getLogger(__name__)

ORIGIN = "notification"
ACK_WORDS = ("ack", "1")
MAX_TEXT = 1600  # Twilio's body limit
# What each status of a page's message means for its recipient.
_STATE_FOR = {
    MessageStatus.QUEUED: PageRecipientState.QUEUED,
    MessageStatus.SENDING: PageRecipientState.QUEUED,
    MessageStatus.ACCEPTED: PageRecipientState.SENT,
    MessageStatus.SENT: PageRecipientState.SENT,
    MessageStatus.DELIVERED: PageRecipientState.DELIVERED,
    MessageStatus.UNDELIVERED: PageRecipientState.FAILED,
    MessageStatus.FAILED: PageRecipientState.FAILED,
    MessageStatus.BLOCKED: PageRecipientState.BLOCKED,
}


class NotifyError(ValueError):
    """The request cannot be carried out; the message says why (shown to the person or API client)."""


class IdempotencyConflict(NotifyError):
    """The idempotency key was used before with a different request."""


@dataclass(frozen=True)
class Target:
    """Whom to page: a group, a Slack user or a bare number."""

    kind: str  # group | user | phone
    value: str

    @property
    def label(self) -> str:
        return f"group:{self.value}" if self.kind == "group" else self.value


def parse_target(raw: str, *, bare_group: bool = False) -> Target:
    """`group:NAME`, a Slack user (ID or mention), or a phone number. With `bare_group`, a plain word is a group."""
    text = raw.strip()
    if text.lower().startswith("group:"):
        name = text[6:].strip().lower()
        if not roster.GROUP_NAME.match(name):
            raise NotifyError(f"{text!r} is not a group name (lowercase letters, digits, - and _)")
        return Target("group", name)
    user = roster.parse_user(text)
    if user:
        return Target("user", user)
    if text.startswith(("@", "<@", "&lt;@")):
        raise NotifyError(mentions.user_error(text))
    if text.startswith("+") or text[:1].isdigit() or text.startswith("("):
        try:
            return Target("phone", parse_e164(text))
        except InvalidPhoneNumber as exc:
            raise NotifyError(f"{exc}; write numbers in E.164 like +14155550100") from None
    if bare_group and roster.GROUP_NAME.match(text.lower().lstrip("#")):
        return Target("group", text.lower().lstrip("#"))
    raise NotifyError(f"{text!r} is not a group (group:NAME), a Slack user ID (U...) or a phone number (+1...)")


def check_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise NotifyError("text is empty")
    if len(text) > MAX_TEXT or analyze(text).too_long:
        raise NotifyError(f"text is too long: {len(text)} characters, at most {MAX_TEXT}")
    return text


async def resolve(services: Services, target: Target) -> list[Member]:
    """The people (with their paging numbers) a target stands for. Unknown group: NotifyError."""
    if target.kind == "phone":
        return [Member(None, target.value)]
    if target.kind == "user":
        return await roster.resolve_users(services, [target.value])
    async with services.db.session() as session:
        members = await roster.group_members(session, services.settings, target.value)
    if members is None:
        raise NotifyError(f"unknown group {target.value!r}")
    return await roster.resolve_users(services, members)


def paging_line(services: Services, channel: str | None = None) -> KnownLine:
    """Pages go out on the line of the channel they were asked from, else on the first configured line."""
    line = services.lines.by_channel(channel)
    if line is None:
        lines = services.lines.all()
        if not lines:
            raise NotifyError("no line is configured to send pages from")
        line = lines[0]
    return line


def default_channel(services: Services) -> str | None:
    """Where pages from the API and Alertmanager are shown: the first configured line's channel."""
    lines = services.settings.lines
    return lines[0].channel if lines else None


def escalation_for(services: Services, group: str | None) -> str | None:
    return services.settings.notify.escalation.get(group) if group else None


@dataclass(frozen=True)
class Created:
    notification: Notification
    recipients: int
    replayed: bool = False


async def create(
    services: Services,
    *,
    members: list[Member],
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    **fields,
) -> Created:
    """Store and queue a notification, or return the one stored earlier under `idempotency_key`.

    `fields` are `insert`'s (target, text, source, line, channel, ...)."""
    if idempotency_key is not None:
        earlier = await _replay(services, idempotency_key, request_hash)
        if earlier is not None:
            return earlier
    try:
        async with services.db.session() as session:
            notification = await insert(
                session, services, members=members, idempotency_key=idempotency_key, request_hash=request_hash, **fields
            )
            if fields.get("alert_status") == "resolved" and fields.get("group_key"):
                await _resolve_alert_group(session, services, fields["group_key"], notification.id)
    except IntegrityError:
        if idempotency_key is None:
            raise
        earlier = await _replay(services, idempotency_key, request_hash)  # a concurrent request won the race
        if earlier is None:
            raise
        return earlier
    services.wakeups.poke_sender()
    services.wakeups.poke_outbox()
    return Created(notification, len(members))


async def _replay(services: Services, key: str, request_hash: str | None) -> Created | None:
    async with services.db.session() as session:
        earlier = await session.scalar(select(Notification).where(Notification.idempotency_key == key))
        if earlier is None:
            return None
        if request_hash is not None and earlier.request_hash != request_hash:
            raise IdempotencyConflict("this Idempotency-Key was used before with a different request body")
        count = len(
            (
                await session.scalars(
                    select(NotificationRecipient.id).where(NotificationRecipient.notification_id == earlier.id)
                )
            ).all()
        )
    return Created(earlier, count, replayed=True)


async def insert(
    session: AsyncSession,
    services: Services,
    *,
    target: Target,
    members: list[Member],
    text: str,
    source: str,
    line: KnownLine,
    channel: str | None,
    created_by: str | None = None,
    sms_body: str | None = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    group_key: str | None = None,
    alert_status: str | None = None,
    escalate: bool = True,
    parent: Notification | None = None,
) -> Notification:
    """Add a notification in the caller's transaction: its recipients, one queued text per number, its Slack post."""
    now = services.clock.now()
    group = target.value if target.kind == "group" else None
    next_group = escalation_for(services, group) if escalate else None
    body = sms_body or text
    if next_group and source != "alertmanager":
        body = f"{body}\nReply ACK to acknowledge."
    notification = Notification(
        root_id=(parent.root_id or parent.id) if parent else None,
        parent_id=parent.id if parent else None,
        source=source,
        target=target.label,
        group_name=group,
        text=text,
        sms_body=body,
        created_by=created_by,
        line_id=line.id,
        channel=channel,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        group_key=group_key,
        alert_status=alert_status,
        status=PageStatus.OPEN,
        created_at=now,
        escalate_at=now + timedelta(minutes=services.settings.notify.escalation_minutes) if next_group else None,
    )
    session.add(notification)
    await session.flush()
    texted: dict[str, int] = {}  # phone -> message id: a number shared by two people is texted once
    for position, member in enumerate(members):
        recipient = NotificationRecipient(
            notification_id=notification.id,
            position=position,
            user_id=member.user_id,
            name=member.name,
            phone=member.phone,
            state=PageRecipientState.NO_PHONE if member.phone is None else PageRecipientState.QUEUED,
            reason=(member.reason or "no phone number known") if member.phone is None else "",
            updated_at=now,
        )
        session.add(recipient)
        if member.phone is None:
            continue
        if member.phone in texted:
            recipient.message_id = texted[member.phone]
            recipient.reason = "same number as another recipient: texted once"
            continue
        state = await consent.current(session, member.phone, line.id, "transactional")
        if state.opted_out:
            source_note = f" ({state.source})" if state.source else ""
            recipient.state, recipient.reason = PageRecipientState.BLOCKED, f"opted out{source_note}; not texted"
            continue
        message = await queue_sms(
            session,
            line=line,
            phone=member.phone,
            body=body,
            origin=ORIGIN,
            purpose="transactional",
            origin_ref=str(notification.id),
            dedupe_key=f"notify:{notification.id}:{member.phone}",
        )
        if message is not None:
            await session.flush()
            recipient.message_id = texted[member.phone] = message.id
    await session.flush()
    if channel:
        row = await outbox.enqueue(
            session, channel=channel, op="post", payload={"text": await render(session, services, notification)}
        )
        notification.slack_outbox_id = row.id
    log.info("notify: notification %s (%s) to %s: %d recipients", notification.id, source, target.label, len(members))
    return notification


async def refresh_slack(session: AsyncSession, services: Services, notification: Notification) -> None:
    """Queue an edit of the notification's Slack message to show its current state."""
    if notification.channel and notification.slack_outbox_id:
        await outbox.enqueue(
            session,
            channel=notification.channel,
            op="update",
            payload={"ref_outbox_id": notification.slack_outbox_id, "render": "notification", "id": notification.id},
        )
        services.wakeups.poke_outbox()


async def render_by_id(services: Services, notification_id: int) -> str:
    """The notification's Slack text as it stands now (the outbox renders edits when it performs them)."""
    async with services.db.session() as session:
        return await render(session, services, await session.get(Notification, notification_id))


async def recipients_of(session: AsyncSession, notification_id: int) -> list[NotificationRecipient]:
    """A notification's recipients, in the order they were paged."""
    return list(
        (
            await session.scalars(
                select(NotificationRecipient)
                .where(NotificationRecipient.notification_id == notification_id)
                .order_by(NotificationRecipient.position)
            )
        ).all()
    )


async def render(session: AsyncSession, services: Services, n: Notification) -> str:
    """The Slack text of a notification as it stands now (see `views.notification_text`)."""
    recipients = await recipients_of(session, n.id)
    return views.notification_text(
        n,
        list(recipients),
        escalation_minutes=services.settings.notify.escalation_minutes,
        escalates_to=escalation_for(services, n.group_name),
    )


# -- delivery status -----------------------------------------------------------------------------


async def on_status(session: AsyncSession, services: Services, message: Message) -> None:
    """Status listener: carry an outbound page's delivery state onto its recipients and the Slack message."""
    if message.origin != ORIGIN:
        return
    state = _STATE_FOR.get(message.status)
    if state is None:
        return
    recipients = (
        await session.scalars(select(NotificationRecipient).where(NotificationRecipient.message_id == message.id))
    ).all()
    now = services.clock.now()
    touched: set[int] = set()
    for recipient in recipients:
        if not PAGE_RECIPIENT_FLOW.allows(recipient.state, state):
            continue  # the same state, or one it has moved past
        recipient.state, recipient.updated_at = state, now
        if state in (PageRecipientState.FAILED, PageRecipientState.BLOCKED):
            recipient.reason = message.error_message or state
        touched.add(recipient.notification_id)
    await session.flush()
    for notification_id in sorted(touched):
        await refresh_slack(session, services, await session.get(Notification, notification_id))


# -- acknowledgements ----------------------------------------------------------------------------


def is_ack(body: str) -> bool:
    return (body or "").strip().lower() in ACK_WORDS


async def on_inbound(session: AsyncSession, services: Services, line: KnownLine, message: Message) -> None:
    """Inbound hook: ACK or 1 from a paged number acknowledges that number's latest open page (and its chain)."""
    if not is_ack(message.body):
        return
    recipient = await session.scalar(
        select(NotificationRecipient)
        .join(Notification, Notification.id == NotificationRecipient.notification_id)
        .where(
            NotificationRecipient.phone == message.phone,
            NotificationRecipient.message_id.is_not(None),
            Notification.status == PageStatus.OPEN,
        )
        .order_by(Notification.id.desc())
        .limit(1)
    )
    if recipient is None:
        return
    notification = await session.get(Notification, recipient.notification_id)
    root = notification.root_id or notification.id
    now = services.clock.now()
    chain = (
        await session.scalars(
            select(Notification)
            .where((Notification.id == root) | (Notification.root_id == root))
            .where(Notification.status == PageStatus.OPEN)
        )
    ).all()
    for item in chain:
        item.status, item.acked_at = PageStatus.ACKED, now
        item.acked_by_user, item.acked_by_phone = recipient.user_id, message.phone
    await session.flush()
    for item in chain:
        await refresh_slack(session, services, item)
    await queue_sms(
        session,
        line=line,
        phone=message.phone,
        purpose="transactional",
        origin=ORIGIN,
        body=f"Acknowledged page #{notification.id}. Thank you.",
        dedupe_key=f"notify-ack:{message.id}",
    )
    services.wakeups.poke_sender()
    log.info("notify: notification %s acknowledged by %s", notification.id, mask(message.phone))


async def _resolve_alert_group(session: AsyncSession, services: Services, group_key: str, resolved_id: int) -> None:
    """A resolved alert group stops the escalation of its open firing pages."""
    firing = (
        await session.scalars(
            select(Notification).where(
                Notification.group_key == group_key,
                Notification.alert_status == "firing",
                Notification.status == PageStatus.OPEN,
                Notification.id != resolved_id,
            )
        )
    ).all()
    for item in firing:
        await session.execute(
            update(Notification)
            .where(
                Notification.id == item.id, PAGE_FLOW.where(Notification.status, PageStatus.OPEN, PageStatus.RESOLVED)
            )
            .values(status=PageStatus.RESOLVED)
        )
        await session.refresh(item)
        await refresh_slack(session, services, item)
    resolved = await session.get(Notification, resolved_id)
    resolved.status = PageStatus.RESOLVED
    await refresh_slack(session, services, resolved)


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


async def describe(services: Services, notification_id: int) -> dict | None:
    """A notification and each recipient's delivery state, as the API shows it."""
    async with services.db.session() as session:
        n = await session.get(Notification, notification_id)
        if n is None:
            return None
        recipients = await recipients_of(session, n.id)
        children = (await session.scalars(select(Notification.id).where(Notification.parent_id == n.id))).all()
    return {
        "id": n.id,
        "to": n.target,
        "text": n.text,
        "sms": n.sms_body,
        "source": n.source,
        "status": n.status,
        "created_at": _iso(n.created_at),
        "acknowledged": {"user": n.acked_by_user, "phone": n.acked_by_phone, "at": _iso(n.acked_at)}
        if n.status == PageStatus.ACKED
        else None,
        "escalates_at": _iso(n.escalate_at) if n.status == PageStatus.OPEN and n.escalated_at is None else None,
        "escalated": {"to": n.escalated_to, "at": _iso(n.escalated_at), "notifications": list(children)}
        if n.escalated_at
        else None,
        "parent_id": n.parent_id,
        "recipients": [
            {
                "user": r.user_id,
                "phone": r.phone,
                "state": r.state,
                "reason": r.reason or None,
                "updated_at": _iso(r.updated_at),
            }
            for r in recipients
        ],
    }
