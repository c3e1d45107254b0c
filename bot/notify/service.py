"""Pages: create a notification, text each recipient once, keep its Slack message up to date, take ACKs.

Every step is rows in one transaction (notification, recipients, queued texts, outbox posts): a crash loses
nothing and a retried request (same idempotency key) sends nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.compliance import consent
from bot.compliance.segments import analyze
from bot.lines import KnownLine
from bot.messaging.outbound import queue_sms
from bot.notify import oncall, roster, views
from bot.notify.roster import Member
from bot.paging_config import Policy
from bot.phone import InvalidPhoneNumber, mask, parse_e164
from bot.services import Services
from bot.slack import mentions, outbox
from storage.db import changed, get_row
from storage.models import Message
from storage.models.notify import Notification, NotificationRecipient
from storage.states import PAGE_FLOW, PAGE_RECIPIENT_FLOW, MessageStatus, PageRecipientState, PageStatus

log = logging.getLogger(__name__)

ORIGIN = "notification"
MAX_TEXT = 1560  # Twilio's body limit (1,600), less room for "Page N: " and "Reply ACK N"
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

    kind: str  # group | schedule | user | phone
    value: str

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.value}" if self.kind in ("group", "schedule") else self.value


def parse_target(raw: str, *, bare_group: bool = False) -> Target:
    """`group:NAME`, `schedule:NAME`, a Slack user (ID or mention), or a phone number. With `bare_group`, a plain
    word is a group."""
    text = raw.strip()
    if text.lower().startswith("schedule:"):
        name = text[9:].strip().lower()
        if not roster.GROUP_NAME.match(name):
            raise NotifyError(f"{text!r} is not a schedule name (lowercase letters, digits, - and _)")
        return Target("schedule", name)
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
    raise NotifyError(
        f"{text!r} is not a group (group:NAME), a schedule (schedule:NAME), a Slack user ID (U...) "
        "or a phone number (+1...)"
    )


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
    if target.kind == "schedule":
        try:
            shift = await oncall.on_call(services, target.value)  # whoever is on call at the moment of paging
        except oncall.OncallError as exc:
            raise NotifyError(str(exc)) from None
        return await roster.resolve_users(services, [shift.user_id])
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
    """The next group of the older `[notify] escalation` table (shown by `/sms team list`)."""
    return services.settings.notify.escalation.get(group) if group else None


def policy_for(services: Services, target: Target, named: str | None = None) -> Policy | None:
    """The escalation policy of a page: the one it names, else the one the older `escalation` table implies for
    its group, else `[notify] default_policy`; None: the page does not escalate."""
    notify = services.settings.notify
    if named is not None:
        policy = notify.policy(named) if roster.GROUP_NAME.match(named) else None
        if policy is None:
            known = ", ".join(notify.policies) or "none are configured"
            raise NotifyError(f"unknown policy {named!r} (policies: {known})")
        return policy
    if target.kind == "group" and target.value in notify.escalation:
        return notify.policy(f"escalation:{target.value}")
    return notify.policy(notify.default_policy) if notify.default_policy else None


def policy_of(services: Services, n: Notification) -> Policy | None:
    return services.settings.notify.policy(n.policy) if n.policy else None


def merge(*groups: list[Member]) -> list[Member]:
    """People of several targets, each once (by Slack user, else by number), in order."""
    seen: set[tuple[str | None, str | None]] = set()
    merged = []
    for members in groups:
        for member in members:
            key = (member.user_id, None) if member.user_id else (None, member.phone)
            if key not in seen:
                seen.add(key)
                merged.append(member)
    return merged


def page_sms(number: int, text: str) -> str:
    """Every page text names its number: "Page 12: ...", then how to answer it."""
    return f"Page {number}: {text}\nReply ACK {number}"


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
    policy: str | None = None,
    **fields,
) -> Created:
    """Store and queue a notification, or return the one stored earlier under `idempotency_key`.

    The page texts its target and its policy's first step at once (each person once); `fields` are `insert`'s
    (target, text, source, line, channel, ...)."""
    if idempotency_key is not None:
        earlier = await _replay(services, idempotency_key, request_hash)
        if earlier is not None:
            return earlier
    chosen = policy_for(services, fields["target"], policy)
    if chosen is not None:
        first = parse_target(chosen.steps[0].notify)
        if first != fields["target"]:
            members = merge(members, await resolve(services, first))
    try:
        async with services.db.session() as session:
            notification = await insert(
                session,
                services,
                members=members,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
                policy=chosen,
                **fields,
            )
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
    sms_body: Callable[[int], str] | None = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    group_key: str | None = None,
    alert_status: str | None = None,
    policy: Policy | None = None,
) -> Notification:
    """Add a notification in the caller's transaction: its recipients, one queued text per number, its Slack post.

    `sms_body(number)` makes the text from the page's number (default: `page_sms`)."""
    now = services.clock.now()
    group = target.value if target.kind == "group" else None
    notification = Notification(
        source=source,
        target=target.label[:64],
        group_name=group,
        text=text,
        sms_body="",
        created_by=created_by,
        line_id=line.id,
        channel=channel,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        group_key=group_key,
        alert_status=alert_status,
        status=PageStatus.OPEN,
        created_at=now,
        policy=policy.name if policy else None,
        step=0,
        escalate_at=now + timedelta(minutes=policy.steps[0].wait_minutes)
        if policy is not None and policy.total_steps > 1
        else None,
    )
    session.add(notification)
    await session.flush()
    notification.sms_body = sms_body(notification.id) if sms_body else page_sms(notification.id, text)
    await page_people(session, services, notification, members, line=line, step=0)
    if channel:
        row = await outbox.enqueue(
            session, channel=channel, op="post", payload=await render(session, services, notification)
        )
        notification.slack_outbox_id = row.id
    log.info("notify: notification %s (%s) to %s: %d recipients", notification.id, source, target.label, len(members))
    return notification


async def page_people(
    session: AsyncSession,
    services: Services,
    notification: Notification,
    members: list[Member],
    *,
    line: KnownLine,
    step: int,
) -> None:
    """Add `members` as recipients of `step` of the page and queue one text per number (consent checked)."""
    now = services.clock.now()
    start = await session.scalar(
        select(func.coalesce(func.max(NotificationRecipient.position) + 1, 0)).where(
            NotificationRecipient.notification_id == notification.id
        )
    )
    texted: dict[str, int] = {}  # phone -> message id: a number shared by two people is texted once
    for offset, member in enumerate(members):
        recipient = NotificationRecipient(
            notification_id=notification.id,
            position=(start or 0) + offset,
            step=step,
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
            body=notification.sms_body,
            origin=ORIGIN,
            purpose="transactional",
            origin_ref=str(notification.id),
            dedupe_key=f"notify:{notification.id}:{step}:{member.phone}",
        )
        if message is not None:
            await session.flush()
            recipient.message_id = texted[member.phone] = message.id
    await session.flush()


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


async def render_by_id(services: Services, notification_id: int) -> dict:
    """The notification's Slack text as it stands now (the outbox renders edits when it performs them)."""
    async with services.db.session() as session:
        return await render(session, services, await get_row(session, Notification, notification_id))


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


async def render(session: AsyncSession, services: Services, n: Notification) -> dict:
    """The Slack message of a notification as it stands now: {"text", "blocks"} (see `views.notification_message`)."""
    recipients = await recipients_of(session, n.id)
    return views.notification_message(n, recipients, policy_of(services, n))


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
        await refresh_slack(session, services, await get_row(session, Notification, notification_id))


# -- acknowledge and resolve ------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What an ACK or RESOLVE did to a page: done, or why not (already, no such page)."""

    done: bool
    notification: Notification | None
    message: str  # what to tell the person (by SMS or in Slack)


async def acknowledge(
    session: AsyncSession, services: Services, notification_id: int, *, user: str | None, phone: str | None
) -> Outcome:
    """Acknowledge one page (and pages of an older escalation chain with it): its escalation stops."""
    n = await session.get(Notification, notification_id)
    if n is None:
        return Outcome(False, None, f"There is no page {notification_id}.")
    root = n.root_id or n.id
    now = services.clock.now()
    claimed = await session.execute(
        update(Notification)
        .where(
            (Notification.id == root) | (Notification.root_id == root),
            PAGE_FLOW.where(Notification.status, PageStatus.OPEN, PageStatus.ACKED),
        )
        .values(status=PageStatus.ACKED, acked_at=now, acked_by_user=user, acked_by_phone=phone)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(n)
    if not changed(claimed):
        if n.status == PageStatus.ACKED:
            return Outcome(False, n, f"Page {n.id} was already acknowledged.")
        return Outcome(False, n, f"Page {n.id} is already resolved.")
    for item in await _chain(session, root):
        await refresh_slack(session, services, item)
    log.info("notify: page %s acknowledged by %s", n.id, user or mask(phone or ""))
    return Outcome(True, n, f"Acknowledged page {n.id}. Thank you.")


async def resolve_page(
    session: AsyncSession, services: Services, notification_id: int, *, by: str, user: str | None = None
) -> Outcome:
    """Resolve one page (open or acknowledged): it stops escalating and its buttons go."""
    n = await session.get(Notification, notification_id)
    if n is None:
        return Outcome(False, None, f"There is no page {notification_id}.")
    root = n.root_id or n.id
    now = services.clock.now()
    claimed = await session.execute(
        update(Notification)
        .where(
            (Notification.id == root) | (Notification.root_id == root),
            PAGE_FLOW.where(Notification.status, (PageStatus.OPEN, PageStatus.ACKED), PageStatus.RESOLVED),
        )
        .values(status=PageStatus.RESOLVED, resolved_at=now, resolved_by=by[:64])
        .execution_options(synchronize_session=False)
    )
    await session.refresh(n)
    if not changed(claimed):
        return Outcome(False, n, f"Page {n.id} is already resolved.")
    for item in await _chain(session, root):
        await refresh_slack(session, services, item)
    log.info("notify: page %s resolved by %s", n.id, user or by)
    return Outcome(True, n, f"Resolved page {n.id}. Thank you.")


async def _chain(session: AsyncSession, root: int) -> list[Notification]:
    rows = (
        await session.scalars(select(Notification).where((Notification.id == root) | (Notification.root_id == root)))
    ).all()
    for row in rows:
        await session.refresh(row)
    return list(rows)


async def from_slack(services: Services, notification_id: int, *, user: str, action: str) -> str:
    """The page message's *Acknowledge* / *Resolve* buttons; returns what to tell the person who clicked."""
    async with services.db.session() as session:
        if action == "ack":
            outcome = await acknowledge(session, services, notification_id, user=user, phone=None)
        else:
            outcome = await resolve_page(session, services, notification_id, by=user, user=user)
    return outcome.message


async def unresolved_alert_page(services: Services, group_key: str) -> Created | None:
    """The page of an Alertmanager group that is still open or acknowledged (a resend pages nobody again)."""
    async with services.db.session() as session:
        page = await session.scalar(
            select(Notification)
            .where(
                Notification.group_key == group_key,
                Notification.alert_status == "firing",
                Notification.status.in_((PageStatus.OPEN, PageStatus.ACKED)),
            )
            .order_by(Notification.id.desc())
            .limit(1)
        )
        if page is None:
            return None
        count = len(await recipients_of(session, page.id))
    return Created(page, count, replayed=True)


async def resolve_alert_group(services: Services, group_key: str, resolved_sms: Callable[[int], str]) -> Created | None:
    """Close the group's unresolved pages; text "Resolved" once to each number texted for them. None: the group
    never paged anybody."""
    async with services.db.session() as session:
        pages = (
            await session.scalars(
                select(Notification)
                .where(
                    Notification.group_key == group_key,
                    Notification.status.in_((PageStatus.OPEN, PageStatus.ACKED)),
                )
                .order_by(Notification.id)
            )
        ).all()
        texted = 0
        for page in pages:
            outcome = await resolve_page(session, services, page.id, by="alertmanager")
            if not outcome.done:
                continue
            line = services.lines.by_id(page.line_id) or paging_line(services)
            phones = dict.fromkeys(r.phone for r in await recipients_of(session, page.id) if r.phone and r.message_id)
            for phone in phones:
                queued = await queue_sms(
                    session,
                    line=line,
                    phone=phone,
                    body=resolved_sms(page.id),
                    origin=ORIGIN,
                    purpose="transactional",
                    origin_ref=str(page.id),
                    dedupe_key=f"notify-resolved:{page.id}:{phone}",
                )
                texted += queued is not None
        latest = (
            pages[-1]
            if pages
            else await session.scalar(
                select(Notification)
                .where(Notification.group_key == group_key)
                .order_by(Notification.id.desc())
                .limit(1)
            )
        )
    services.wakeups.poke_sender()
    services.wakeups.poke_outbox()
    return Created(latest, texted, replayed=not pages) if latest is not None else None


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
    policy = policy_of(services, n)
    return {
        "id": n.id,
        "to": n.target,
        "text": n.text,
        "sms": n.sms_body,
        "source": n.source,
        "status": n.status,
        "created_at": _iso(n.created_at),
        "acknowledged": {"user": n.acked_by_user, "phone": n.acked_by_phone, "at": _iso(n.acked_at)}
        if n.acked_at is not None
        else None,
        "resolved": {"by": n.resolved_by, "at": _iso(n.resolved_at)} if n.resolved_at is not None else None,
        "policy": n.policy,
        "step": n.step + 1,
        "steps": policy.total_steps if policy else 1,
        "escalates_at": _iso(n.escalate_at) if n.status == PageStatus.OPEN else None,
        "escalated": {"to": n.escalated_to, "at": _iso(n.escalated_at), "notifications": list(children)}
        if n.escalated_at
        else None,
        "parent_id": n.parent_id,
        "recipients": [
            {
                "user": r.user_id,
                "phone": r.phone,
                "step": r.step + 1,
                "state": r.state,
                "reason": r.reason or None,
                "updated_at": _iso(r.updated_at),
            }
            for r in recipients
        ],
    }
