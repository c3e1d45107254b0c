"""Campaign lifecycle: create, preview, approve, schedule, dispatch, pause/resume/cancel, progress.

draft -> pending_approval -> scheduled -> running <-> paused -> completed | cancelled.
Every transition is a conditional update of the campaign row plus an audit row, in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns import template as tpl
from bot.campaigns import views
from bot.campaigns.audience import (
    AudienceError,
    audience_filter,
    classify,
    contact_batch,
    list_exists,
    parse_audience,
)
from bot.campaigns.pricing import Estimate
from bot.compliance import gate
from bot.compliance.quiet_hours import next_allowed
from bot.compliance.segments import analyze
from bot.cooperative import paced
from bot.lines import KnownLine
from bot.liveness import gone_among
from bot.messaging.outbound import queue_many
from bot.permissions import is_admin, is_approver
from bot.services import Services
from bot.slack import outbox
from storage.bulk import among, insert_rows
from storage.db import changed, get_row
from storage.models import Contact, Message
from storage.models.campaigns import Campaign, CampaignEvent, CampaignLink, CampaignRecipient
from storage.states import CAMPAIGN_FLOW, MESSAGE_FLOW, CampaignState, MessageStatus, RecipientStatus

log = logging.getLogger(__name__)

PURPOSES = ("marketing", "transactional")
BATCH = 500  # contacts read per query: memory stays flat whatever the audience size
# Contacts queued per dispatch step: a bigger step costs fewer statements and transactions per text. Its
# loops give the event loop a turn every few milliseconds (bot.cooperative), so sends waiting for their rate
# slots are not held past them while a step renders (see bot/ratelimit.py).
DISPATCH_BATCH = 1000
MAX_WINDOW = 2000
SENT_LIKE = (MessageStatus.ACCEPTED, MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)


class CampaignError(ValueError):
    """A refusal to show to the person who asked."""


def window_for(line: KnownLine) -> int:
    """How many messages a campaign keeps queued-and-due at once: about one second of the line's rate.

    This is what makes pause and cancel take effect within a second: the sender never holds more than
    that much of a campaign in hand (see `pause`). Deferred (quiet-hour) messages do not count."""
    return max(2, min(MAX_WINDOW, math.ceil(line.config.mps)))


# -- creating -------------------------------------------------------------------------------------


@dataclass
class Draft:
    name: str
    line: KnownLine
    audience: str
    purpose: str
    text: str
    send_at: datetime | None


def _parse_time(value: str, now: datetime) -> datetime | None:
    value = (value or "").strip()
    if not value or value.lower() == "now":
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CampaignError(f"at={value!r} is not `now` or an ISO time like 2030-06-01T15:00:00-04:00") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # a time without an offset is read as UTC
    return when.astimezone(UTC)


def validate(
    services: Services, fields: dict[str, str], *, channel: str | None = None
) -> tuple[Draft | None, dict[str, str]]:
    """Check the fields of a new campaign; return (draft, {}) or (None, {field: error})."""
    errors: dict[str, str] = {}
    name = (fields.get("name") or "").strip()
    if not name:
        errors["name"] = "Give the campaign a name."
    elif len(name) > 120:
        errors["name"] = "Keep the name under 120 characters."
    campaign_lines = [line for line in services.lines.all() if line.config.sends_campaigns]
    line = None
    line_key = (fields.get("line") or "").strip()
    if line_key:
        line = services.lines.by_key(line_key)
        if line is None:
            errors["line"] = f"{line_key!r} is not a configured line."
        elif not line.config.sends_campaigns:
            errors["line"] = f"{line_key} is a {line.config.kind} line; campaigns go out on a2p or both lines only."
    else:
        here = services.lines.by_channel(channel)
        if here is not None and here.config.sends_campaigns:
            line = here
        elif len(campaign_lines) == 1:
            line = campaign_lines[0]
        else:
            errors["line"] = (
                "No a2p line configured."
                if not campaign_lines
                else "Choose the line: line=" + " or line=".join(cl.config.key for cl in campaign_lines)
            )
    audience = ""
    try:
        audience = parse_audience(fields.get("to") or "")
    except AudienceError as exc:
        errors["to"] = str(exc)
    purpose = (fields.get("purpose") or "marketing").strip().lower()
    if purpose not in PURPOSES:
        errors["purpose"] = "purpose must be marketing or transactional."
    text = (fields.get("text") or "").strip()
    if not text:
        errors["text"] = "Write the message text."
    elif tpl.unknown_fields(text):
        errors["text"] = (
            f"Unknown field {{{tpl.unknown_fields(text)[0]}}}; use "
            + ", ".join("{" + f + "}" for f in tpl.FIELDS)
            + " (with a fallback: {first_name|there})."
        )
    elif len(text) > 1400:
        errors["text"] = "The text is too long (1400 characters at most, before the footer)."
    send_at = None
    try:
        send_at = _parse_time(fields.get("at") or "now", services.clock.now())
    except CampaignError as exc:
        errors["at"] = str(exc)
    if errors or line is None:
        return None, errors
    return Draft(name=name, line=line, audience=audience, purpose=purpose, text=text, send_at=send_at), {}


async def audit(
    session: AsyncSession,
    campaign: Campaign,
    actor: str,
    action: str,
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    detail: str = "",
    now: datetime | None = None,
) -> None:
    event = CampaignEvent(
        campaign_id=campaign.id, actor=actor, action=action, from_state=from_state, to_state=to_state, detail=detail
    )
    if now is not None:
        event.created_at = now
    session.add(event)


async def create(services: Services, user: str, draft: Draft) -> Campaign:
    """Store a draft; the worker computes its preview and posts it for approval."""
    if not is_admin(services.settings, user):
        raise CampaignError("Only admins may create campaigns.")
    async with services.db.session() as session:
        if draft.audience.startswith("list:") and not await list_exists(session, draft.audience):
            raise CampaignError(
                f"There is no contact list {draft.audience.partition(':')[2]!r} (a list is made by a contacts "
                "import with that list name). Nothing was created."
            )
        campaign = Campaign(
            name=draft.name,
            line_id=draft.line.id,
            audience=draft.audience,
            purpose=draft.purpose,
            template=draft.text,
            send_at=draft.send_at,
            state=CampaignState.DRAFT,
            created_by=user,
            channel=draft.line.config.channel,
            preview={},
            skipped={},
            cursor=0,
            exhausted=False,
            progress_text="",
        )
        session.add(campaign)
        await session.flush()
        await audit(
            session,
            campaign,
            user,
            "created",
            to_state=CampaignState.DRAFT,
            detail=(
                f"to={draft.audience} purpose={draft.purpose} "
                f"at={draft.send_at.isoformat() if draft.send_at else 'now'}"
            ),
            now=services.clock.now(),
        )
    return campaign


# -- preview --------------------------------------------------------------------------------------


def render_for(campaign: Campaign, contact, public_url: str, footer: str, make_code=None) -> str:
    text = tpl.render(campaign.template, tpl.contact_fields(contact))
    text = tpl.rewrite_links(text, public_url, make_code or (lambda url: "x" * 8))
    return tpl.finish(text, campaign.purpose, footer)


async def compute_preview(services: Services, campaign_id: int) -> dict:
    """Counts, a rendered sample, segments, cost and send-time estimates, reading the audience in batches."""
    settings = services.settings
    now = services.clock.now()
    async with services.db.session() as session:
        campaign = await get_row(session, Campaign, campaign_id)
    line = services.lines.get(campaign.line_id)
    skipped: Counter = Counter()
    eligible = total = total_segments = 0
    estimate = Estimate(services.carrier_for(line.id).prices)
    encodings: Counter = Counter()
    sample = None
    starts: Counter = Counter()  # earliest allowed send time (to the minute) -> recipients
    start = max(campaign.send_at or now, now)
    policy = gate.quiet_policy(settings.compliance)
    zone_cache: dict[str, datetime | None] = {}
    seen_renormalised: set[str] = set()
    cursor = 0
    while True:
        async with services.db.session() as session:
            contacts = await contact_batch(session, campaign.audience, cursor, BATCH)
            if not contacts:
                break
            cursor = contacts[-1].id
            items = await classify(
                session,
                contacts,
                line_id=campaign.line_id,
                purpose=campaign.purpose,
                now=start,  # the frequency cap as it will stand when the campaign sends, not today
                frequency_cap=settings.compliance.frequency_cap,
            )
            # Two stored spellings of one number are one recipient: the non-canonical one is the duplicate.
            odd = {i.phone for i in items if i.reason is None and i.phone != i.contact.phone}
            canonical = set()
            if odd:
                query = select(Contact.phone).where(Contact.phone.in_(odd))
                condition = audience_filter(campaign.audience)
                if condition is not None:
                    query = query.where(condition)
                canonical = set((await session.scalars(query)).all())
        for item in items:
            total += 1
            if item.reason is None and item.phone != item.contact.phone:
                if item.phone in canonical or item.phone in seen_renormalised:
                    item.reason = "duplicate"
                else:
                    seen_renormalised.add(item.phone)
            if item.reason is not None:
                skipped[item.reason] += 1
                continue
            eligible += 1
            text = render_for(campaign, item.contact, settings.public_url, settings.compliance.footer)
            info = analyze(text, smart_encoding=line.config.smart_encoding)
            total_segments += max(1, info.segments)
            estimate.add(item.phone, max(1, info.segments))
            encodings[info.encoding] += 1
            if sample is None:
                sample = {
                    "text": text,
                    "encoding": info.encoding,
                    "segments": max(1, info.segments),
                    "characters": len(info.text),
                }
            if campaign.purpose == "marketing":
                key = item.phone[:5] if item.phone.startswith("+1") else item.phone[:6]
                if key not in zone_cache:
                    zone_cache[key] = next_allowed(item.phone, start, policy)
                allowed = zone_cache[key]
                if allowed is None:
                    continue
                starts[allowed.replace(second=0, microsecond=0) if allowed > start else start] += 1
            else:
                starts[start] += 1
        await asyncio.sleep(0)  # long audiences: let the loop breathe between batches
    first = last = None
    if starts:
        moments = sorted(starts)
        first = moments[0]
        clock = moments[0]
        for moment in moments:
            clock = max(clock, moment) + timedelta(seconds=starts[moment] / line.config.mps)
        last = clock
    return {
        "audience": total,
        "eligible": eligible,
        "skipped": dict(skipped),
        "sample": sample,
        "encodings": dict(encodings),
        "total_segments": total_segments,
        **estimate.as_dict(),
        "first_send": first.isoformat() if first else None,
        "last_send": last.isoformat() if last else None,
        "mps": line.config.mps,
    }


async def post_preview(services: Services, campaign_id: int) -> None:
    """Compute the preview of a draft and post it with Approve / Cancel: draft -> pending_approval."""
    preview = await compute_preview(services, campaign_id)
    async with services.db.session() as session:
        campaign = await get_row(session, Campaign, campaign_id, with_for_update=True)
        if campaign.state != CampaignState.DRAFT:
            return
        campaign.preview = preview
        line = services.lines.get(campaign.line_id)
        row = await outbox.enqueue(
            session,
            channel=campaign.channel,
            op="post",
            payload={"text": views.preview_text(campaign, line)[:3000], "blocks": views.preview_blocks(campaign, line)},
        )
        campaign.preview_outbox_id = row.id
        campaign.state = CampaignState.PENDING_APPROVAL
        await audit(
            session,
            campaign,
            "system",
            "previewed",
            from_state=CampaignState.DRAFT,
            to_state=CampaignState.PENDING_APPROVAL,
            detail=f"{preview['eligible']} eligible of {preview['audience']}",
            now=services.clock.now(),
        )
    services.wakeups.poke_outbox()


# -- transitions ----------------------------------------------------------------------------------


async def _load(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await session.get(Campaign, campaign_id, with_for_update=True)
    if campaign is None:
        raise CampaignError(f"There is no campaign #{campaign_id}.")
    return campaign


async def _update_preview_message(session: AsyncSession, services: Services, campaign: Campaign, note: str) -> None:
    if campaign.preview_outbox_id is None:
        return
    line = services.lines.get(campaign.line_id)
    await outbox.enqueue(
        session,
        channel=campaign.channel,
        op="update",
        payload={
            "ref_outbox_id": campaign.preview_outbox_id,
            "text": views.preview_text(campaign, line)[:3000],
            "blocks": views.preview_blocks(campaign, line, buttons=False, footer=note),
        },
    )


def _may_manage(services: Services, user: str) -> None:
    if not (is_admin(services.settings, user) or is_approver(services.settings, user)):
        raise CampaignError("Only admins and approvers may manage campaigns.")


async def approve(services: Services, campaign_id: int, user: str) -> str:
    if not is_approver(services.settings, user):
        raise CampaignError("Only approvers may approve campaigns.")
    now = services.clock.now()
    async with services.db.session() as session:
        campaign = await _load(session, campaign_id)
        if campaign.created_by == user:
            raise CampaignError(f"You created campaign #{campaign.id}; another approver must approve it.")
        if campaign.state != CampaignState.PENDING_APPROVAL:
            raise CampaignError(
                f"Campaign #{campaign.id} is {campaign.state}; only a campaign pending approval can be approved."
            )
        if not (campaign.preview or {}).get("eligible", 0):
            raise CampaignError(
                f"Campaign #{campaign.id} has no eligible recipients, so nothing would be sent; it was not "
                "approved. Cancel it, then create it again once its audience has recipients who may be texted."
            )
        campaign.state, campaign.approved_by = CampaignState.SCHEDULED, user
        await audit(
            session,
            campaign,
            user,
            "approved",
            from_state=CampaignState.PENDING_APPROVAL,
            to_state=CampaignState.SCHEDULED,
            now=now,
        )
        when = (
            "now" if campaign.send_at is None or campaign.send_at <= now else f"{campaign.send_at:%Y-%m-%d %H:%M} UTC"
        )
        await _update_preview_message(
            session, services, campaign, f":white_check_mark: Approved by <@{user}>; starts {when}."
        )
    services.wakeups.poke_outbox()
    return f"Campaign #{campaign_id} approved; it starts {when}."


async def pause(services: Services, campaign_id: int, user: str) -> str:
    """running -> paused. Its queued messages are held (the sender only takes `queued` ones), so nothing more
    of it goes out beyond what the sender already holds, at most about one second's worth (see window_for)."""
    _may_manage(services, user)
    async with services.db.session() as session:
        campaign = await _load(session, campaign_id)
        if campaign.state != CampaignState.RUNNING:
            raise CampaignError(f"Campaign #{campaign.id} is {campaign.state}; only a running campaign can be paused.")
        campaign.state = CampaignState.PAUSED
        held = await _set_message_status(session, campaign.id, MessageStatus.QUEUED, MessageStatus.HELD)
        await audit(
            session,
            campaign,
            user,
            "paused",
            from_state=CampaignState.RUNNING,
            to_state=CampaignState.PAUSED,
            detail=f"{held} queued messages held",
            now=services.clock.now(),
        )
    await refresh(services, campaign_id, interval=0)
    return f"Campaign #{campaign_id} paused ({held} messages held)."


async def resume(services: Services, campaign_id: int, user: str) -> str:
    _may_manage(services, user)
    async with services.db.session() as session:
        campaign = await _load(session, campaign_id)
        if campaign.state != CampaignState.PAUSED:
            raise CampaignError(f"Campaign #{campaign.id} is {campaign.state}; only a paused campaign can be resumed.")
        campaign.state = CampaignState.RUNNING
        released = await _set_message_status(session, campaign.id, MessageStatus.HELD, MessageStatus.QUEUED)
        await audit(
            session,
            campaign,
            user,
            "resumed",
            from_state=CampaignState.PAUSED,
            to_state=CampaignState.RUNNING,
            detail=f"{released} messages released",
            now=services.clock.now(),
        )
    services.wakeups.poke_sender()
    await refresh(services, campaign_id, interval=0)
    return f"Campaign #{campaign_id} resumed."


async def cancel(services: Services, campaign_id: int, user: str) -> str:
    _may_manage(services, user)
    now = services.clock.now()
    async with services.db.session() as session:
        campaign = await _load(session, campaign_id)
        if campaign.state in CAMPAIGN_FLOW.terminal():
            raise CampaignError(f"Campaign #{campaign.id} is already {campaign.state}.")
        before = campaign.state
        campaign.state, campaign.finished_at = CampaignState.CANCELLED, now
        dropped = await _set_message_status(
            session, campaign.id, (MessageStatus.QUEUED, MessageStatus.HELD), MessageStatus.CANCELLED
        )
        await audit(
            session,
            campaign,
            user,
            "cancelled",
            from_state=before,
            to_state=CampaignState.CANCELLED,
            detail=f"{dropped} unsent messages cancelled",
            now=now,
        )
        if before in (CampaignState.DRAFT, CampaignState.PENDING_APPROVAL, CampaignState.SCHEDULED):
            await _update_preview_message(session, services, campaign, f":no_entry_sign: Cancelled by <@{user}>.")
    await refresh(services, campaign_id, interval=0)
    services.wakeups.poke_outbox()
    return f"Campaign #{campaign_id} cancelled ({dropped} unsent messages dropped)."


async def _set_message_status(
    session: AsyncSession, campaign_id: int, old: MessageStatus | tuple[MessageStatus, ...], new: MessageStatus
) -> int:
    result = await session.execute(
        update(Message)
        .where(texts_of(campaign_id), MESSAGE_FLOW.where(Message.status, old, new))
        .values(status=new, claim_until=None)
        .execution_options(synchronize_session=False)
    )
    return changed(result)


# -- running --------------------------------------------------------------------------------------


async def start_due(services: Services) -> list[int]:
    """scheduled -> running for campaigns whose time has come; posts the progress message."""
    now = services.clock.now()
    started = []
    async with services.db.session() as session:
        due = list(
            (
                await session.scalars(
                    select(Campaign)
                    .where(
                        Campaign.state == CampaignState.SCHEDULED,
                        or_(Campaign.send_at.is_(None), Campaign.send_at <= now),
                    )
                    .order_by(Campaign.id)
                    .with_for_update(skip_locked=True)
                )
            ).all()
        )
        for campaign in due:
            campaign.state, campaign.started_at = CampaignState.RUNNING, now
            row = await outbox.enqueue(
                session,
                channel=campaign.channel,
                op="post",
                payload={"text": f"Campaign #{campaign.id} {campaign.name}: starting…"},
            )
            campaign.progress_outbox_id = row.id
            await audit(
                session,
                campaign,
                "system",
                "started",
                from_state=CampaignState.SCHEDULED,
                to_state=CampaignState.RUNNING,
                now=now,
            )
            started.append(campaign.id)
    if started:
        services.wakeups.poke_outbox()
    return started


async def take_lease(services: Services, campaign_id: int, seconds: float = 30.0) -> bool:
    """Only one replica dispatches a campaign at a time. A dead replica's lease lapses; one of a process of
    this host that is gone (bot.liveness) is taken at once."""
    now = services.clock.now()
    async with services.db.session() as session:
        result = await session.execute(
            update(Campaign)
            .where(
                Campaign.id == campaign_id,
                or_(
                    Campaign.lease_owner.is_(None),
                    Campaign.lease_owner == services.worker_id,
                    Campaign.lease_until < now,
                ),
            )
            .values(lease_owner=services.worker_id, lease_until=now + timedelta(seconds=seconds))
        )
        if changed(result) == 1:
            return True
        owner = await session.scalar(select(Campaign.lease_owner).where(Campaign.id == campaign_id))
        if owner is None or not await gone_among([owner]):
            return False
        log.info("campaign %s: its lease holder is gone; taking the lease over", campaign_id)
        result = await session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.lease_owner == owner)
            .values(lease_owner=services.worker_id, lease_until=now + timedelta(seconds=seconds))
        )
        return changed(result) == 1


async def dispatch_step(services: Services, campaign_id: int) -> int:
    """Materialise and queue the next recipients, keeping about a second's worth in hand. Returns how many
    contacts were read (0: nothing to do now). Cursor, recipients and messages commit together."""
    settings = services.settings
    now = services.clock.now()
    async with services.db.session() as session:
        campaign = await session.get(Campaign, campaign_id, with_for_update=True)
        if campaign is None or campaign.state != CampaignState.RUNNING or campaign.exhausted:
            return 0
        line = services.lines.get(campaign.line_id)
        in_hand = await session.scalar(
            select(func.count(Message.id)).where(
                texts_of(campaign.id),
                Message.status.in_((MessageStatus.QUEUED, MessageStatus.SENDING)),
                Message.outcome_unknown_since.is_(None),  # being reconciled: not in hand (see bot.messaging.reconcile)
                or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
            )
        )
        room = window_for(line) - (in_hand or 0)
        if room <= 0:
            return 0
        contacts = await contact_batch(session, campaign.audience, campaign.cursor, min(room, DISPATCH_BATCH))
        if not contacts:
            campaign.exhausted = True
            await audit(
                session, campaign, "system", "materialised", detail="every recipient is queued or skipped", now=now
            )
            return 0
        items = await classify(
            session,
            contacts,
            line_id=campaign.line_id,
            purpose=campaign.purpose,
            now=now,
            frequency_cap=settings.compliance.frequency_cap,
        )
        skipped = dict(campaign.skipped or {})
        # A number met before is a duplicate: another spelling in this step, or a recipient since an earlier one.
        seen = await _known_recipients(session, campaign.id, {item.phone for item in items})
        fresh = []
        for item in items:
            reason = "duplicate" if item.phone in seen else item.reason
            if reason is not None:
                skipped[reason] = skipped.get(reason, 0) + 1
            if item.phone not in seen:
                seen.add(item.phone)
                fresh.append(item)
        links: list[dict] = []
        requests: list[dict] = []
        async for item in paced(fresh):
            if item.reason is not None:
                continue

            def make_code(url: str, phone=item.phone) -> str:
                code = tpl.new_code()
                links.append({"code": code, "campaign_id": campaign.id, "phone": phone, "url": url, "clicks": 0})
                return code

            body = render_for(campaign, item.contact, settings.public_url, settings.compliance.footer, make_code)
            requests.append(
                {
                    "phone": item.phone,
                    "body": body,
                    "origin": "campaign",
                    "purpose": campaign.purpose,
                    "origin_ref": str(campaign.id),
                    "dedupe_key": recipient_key(campaign.id, item.phone),
                }
            )
        queued = await queue_many(session, line=line, requests=requests)
        await _add_recipients(session, campaign.id, fresh, queued)
        await insert_rows(session, CampaignLink.__table__, links)
        campaign.skipped = skipped
        campaign.cursor = contacts[-1].id
    services.wakeups.poke_sender()
    return len(contacts)


_recipients = CampaignRecipient.__table__


async def _known_recipients(session: AsyncSession, campaign_id: int, phones: set[str]) -> set[str]:
    """Which of `phones` are recipients of the campaign already: an index lookup per number, so a step
    costs the same however many recipients came before."""
    if not phones:
        return set()
    return set(
        (
            await session.scalars(
                select(_recipients.c.phone).where(
                    _recipients.c.campaign_id == campaign_id, among(session, _recipients.c.phone, phones)
                )
            )
        ).all()
    )


async def _add_recipients(session: AsyncSession, campaign_id: int, items: list, queued: dict[str, int]) -> None:
    """Record the step's new recipients: queued (with their message, from `queued`: dedupe key -> message
    id), or skipped with their reason. In the step's transaction, with the messages and the cursor; the
    unique (campaign, phone) constraint still guards against a second row."""
    if not items:
        return
    rows = [
        {
            "campaign_id": campaign_id,
            "phone": item.phone,
            "contact_id": item.contact.id,
            "status": RecipientStatus.SKIPPED if item.reason else RecipientStatus.QUEUED,
            "skip_reason": item.reason,
            "message_id": None if item.reason else queued.get(recipient_key(campaign_id, item.phone)),
        }
        for item in items
    ]
    await insert_rows(session, _recipients, rows, on_conflict_do_nothing=["campaign_id", "phone"])


def texts_of(campaign_id: int):
    """The condition that selects a campaign's texts, on the messages table alone (index ix_messages_origin):
    queries run every dispatch step must not grow with the recipients already done."""
    return and_(Message.origin == "campaign", Message.origin_ref == str(campaign_id))


def recipient_key(campaign_id: int, phone: str) -> str:
    """The dedupe key of a campaign's text to one number: what makes it go at most once."""
    return f"campaign:{campaign_id}:{phone}"


async def counts(session: AsyncSession, campaign: Campaign, now: datetime) -> dict[str, int]:
    mine = select(Message.status, func.count(Message.id)).where(texts_of(campaign.id))
    rows = [(status, False, n) for status, n in await session.execute(mine.group_by(Message.status))]
    later = await session.scalar(
        select(func.count(Message.id)).where(
            texts_of(campaign.id),
            Message.status == MessageStatus.QUEUED,
            Message.next_attempt_at.is_not(None),
            Message.next_attempt_at > now,
        )
    )
    if later:
        queued = MessageStatus.QUEUED
        rows = [(s, False, n - later if s == queued else n) for s, _, n in rows] + [(queued, True, later)]
    c: Counter[str] = Counter()
    for status, later, n in rows:
        if status in SENT_LIKE:
            c["sent"] += n
        if status == MessageStatus.DELIVERED:
            c["delivered"] += n
        if status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
            c["failed"] += n
        if status == MessageStatus.FAILED:
            c["failed_unsent"] += n
        if status == MessageStatus.BLOCKED:
            c["blocked"] += n
        if status == MessageStatus.CANCELLED:
            c["cancelled"] += n
        if status == MessageStatus.HELD:
            c["held"] += n
        if status in (MessageStatus.QUEUED, MessageStatus.SENDING):
            c["deferred" if (status == MessageStatus.QUEUED and later) else "pending"] += n
        c["queued_total"] += n
    c["skipped"] = sum((campaign.skipped or {}).values()) + c["blocked"]
    return dict(c)


COMPLETION_CHECK_SECONDS = 0.5


async def refresh(
    services: Services,
    campaign_id: int,
    *,
    interval: float,
    last_check: dict[int, float] | None = None,
    on_completed: Callable[[int], Awaitable[object]] | None = None,
) -> bool:
    """Complete a finished campaign; push its progress message when it changed and `interval` has passed.
    Counting is a grouped query over the campaign's messages, so it runs at most every `interval` (and
    every half second once everything is queued, to notice completion). True once nothing is left to report.
    `last_check` (campaign id -> loop time it was last counted) is the caller's: the campaign worker keeps it.
    `on_completed(campaign_id)` runs once the completion is committed (the worker posts the full report)."""
    loop = asyncio.get_running_loop()
    last_check = {} if last_check is None else last_check
    now = services.clock.now()
    async with services.db.session() as session:
        campaign = await session.get(Campaign, campaign_id)
        if campaign is None or campaign.progress_outbox_id is None:
            return campaign is None or campaign.state in CAMPAIGN_FLOW.terminal()
        final_state = campaign.state in CAMPAIGN_FLOW.terminal()
        due = interval == 0 or campaign.progress_at is None or (now - campaign.progress_at).total_seconds() >= interval
        check = (
            campaign.state == CampaignState.RUNNING
            and campaign.exhausted
            and loop.time() - last_check.get(campaign_id, float("-inf")) >= COMPLETION_CHECK_SECONDS
        )
        if not (due or final_state or check):
            return False
        last_check[campaign_id] = loop.time()
        campaign = await get_row(session, Campaign, campaign_id, with_for_update=True, populate_existing=True)
        c = await counts(session, campaign, now)
        done = False
        if (
            campaign.state == CampaignState.RUNNING
            and campaign.exhausted
            and not (c.get("pending", 0) or c.get("deferred", 0) or c.get("held", 0))
        ):
            campaign.state, campaign.finished_at, done = CampaignState.COMPLETED, now, True
            await audit(
                session,
                campaign,
                "system",
                "completed",
                from_state=CampaignState.RUNNING,
                to_state=CampaignState.COMPLETED,
                detail=f"sent {c.get('sent', 0)}, failed {c.get('failed', 0)}, skipped {c.get('skipped', 0)}",
                now=now,
            )
        text = views.progress_text(campaign, c, done=done)
        final = campaign.state in CAMPAIGN_FLOW.terminal()
        if text == campaign.progress_text or not (due or final):
            return final and text == campaign.progress_text
        campaign.progress_text, campaign.progress_at = text, now
        await outbox.enqueue(
            session,
            channel=campaign.channel,
            op="update",
            payload={
                "ref_outbox_id": campaign.progress_outbox_id,
                "text": text,
                "blocks": views.progress_blocks(text),
            },
        )
        if done:
            await outbox.enqueue(
                session,
                channel=campaign.channel,
                op="post",
                payload={"text": views.completion_text(campaign, c)},
            )
    if done and on_completed is not None:
        await on_completed(campaign_id)
    services.wakeups.poke_outbox()
    return final
