"""`/sms campaign report ID`: the funnel, carrier errors with their meaning, attributed opt-outs, clicks,
a chart of the funnel, and a per-recipient CSV (built page by page from the database)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import media
from bot.campaigns.audience import SKIP_REASONS
from bot.campaigns.chart import funnel_png
from bot.campaigns.service import CampaignError, counts
from bot.services import Services
from bot.slack import outbox
from storage.bulk import among
from storage.models import ConsentEvent, Message
from storage.models.campaigns import Campaign, CampaignLink, CampaignRecipient
from storage.states import MessageStatus

OPT_OUT_WINDOW = timedelta(hours=72)
PAGE = 1000


@dataclass
class Report:
    campaign: Campaign
    text: str  # the summary posted as the command's answer
    csv: str  # one row per recipient
    chart: bytes  # the funnel as a PNG


async def _last_campaign_only(
    session: AsyncSession, campaign_id: int, candidates: list[tuple[str, datetime, datetime]]
) -> set[str]:
    """The numbers whose opt-out counts against this campaign: an opt-out counts against the one campaign whose
    text the number received last before it (within the window), not against every campaign sent before it."""
    if not candidates:
        return set()
    phones = {phone for phone, _sent, _at in candidates}
    others = await session.execute(
        select(CampaignRecipient.phone, Message.sent_at)
        .join(Message, Message.id == CampaignRecipient.message_id)
        .where(
            CampaignRecipient.campaign_id != campaign_id,
            among(session, CampaignRecipient.phone, phones),
            Message.sent_at.is_not(None),
            Message.sent_at >= min(sent for _phone, sent, _at in candidates),
        )
    )
    later: dict[str, list[datetime]] = {}
    for phone, sent_at in others:
        later.setdefault(phone, []).append(sent_at)
    return {
        phone for phone, sent_at, at in candidates if not any(sent_at < other <= at for other in later.get(phone, ()))
    }


async def build(services: Services, campaign_id: int) -> Report:
    """The report of a campaign: summary text, per-recipient CSV and funnel chart."""
    now = services.clock.now()
    async with services.db.session() as session:
        campaign = await session.get(Campaign, campaign_id)
        if campaign is None:
            raise CampaignError(f"There is no campaign #{campaign_id}.")
        c = await counts(session, campaign, now)
        errors = (
            await session.execute(
                select(Message.error_code, func.count(Message.id))
                .select_from(CampaignRecipient)
                .join(Message, Message.id == CampaignRecipient.message_id)
                .where(CampaignRecipient.campaign_id == campaign.id, Message.error_code.is_not(None))
                .group_by(Message.error_code)
                .order_by(func.count(Message.id).desc())
            )
        ).all()
        blocked_reasons = (
            await session.execute(
                select(Message.error_message, func.count(Message.id))
                .select_from(CampaignRecipient)
                .join(Message, Message.id == CampaignRecipient.message_id)
                .where(CampaignRecipient.campaign_id == campaign.id, Message.status == MessageStatus.BLOCKED)
                .group_by(Message.error_message)
            )
        ).all()
        opt_outs = set()
        if campaign.started_at is not None:
            rows = await session.execute(
                select(CampaignRecipient.phone, Message.sent_at, ConsentEvent.created_at)
                .join(Message, Message.id == CampaignRecipient.message_id)
                .join(ConsentEvent, ConsentEvent.phone == CampaignRecipient.phone)
                .where(
                    CampaignRecipient.campaign_id == campaign.id,
                    Message.sent_at.is_not(None),
                    ConsentEvent.action == "opt_out",
                    ConsentEvent.created_at >= campaign.started_at,
                )
            )
            candidates = [
                (phone, sent_at, at) for phone, sent_at, at in rows if sent_at <= at <= sent_at + OPT_OUT_WINDOW
            ]
            opt_outs = await _last_campaign_only(session, campaign.id, candidates)
        clicks, clickers = (
            await session.execute(
                select(
                    func.coalesce(func.sum(CampaignLink.clicks), 0),
                    func.count(func.distinct(CampaignLink.phone)).filter(CampaignLink.clicks > 0),
                ).where(CampaignLink.campaign_id == campaign.id)
            )
        ).one()
    skipped = dict(campaign.skipped or {})
    lines = [
        f"*Report for campaign #{campaign.id} {campaign.name}* ({campaign.state})",
        f"Funnel: audience {campaign.preview.get('audience', 0)} → queued {c.get('queued_total', 0)} → "
        f"sent {c.get('sent', 0)} → delivered {c.get('delivered', 0)} → clicked {clickers} "
        f"({clicks} clicks)",
        "Skipped before sending: "
        + (", ".join(f"{SKIP_REASONS.get(k, k)} {v}" for k, v in sorted(skipped.items())) or "none"),
        f"Blocked at send time: {c.get('blocked', 0)}; failed/undelivered: {c.get('failed', 0)}; "
        f"deferred (quiet hours): {c.get('deferred', 0)}; cancelled: {c.get('cancelled', 0)}",
    ]
    if errors:
        lines.append("Carrier errors:")
        lines += [f"• {code}: {n} — {services.carrier_for(campaign.line_id).describe(code)}" for code, n in errors]
    if blocked_reasons:
        lines += [f"• blocked ({n}): {reason}" for reason, n in blocked_reasons]
    lines.append(f"Opt-outs within 72 h of a campaign text: {len(opt_outs)}")
    chart = funnel_png(
        f"Campaign #{campaign.id} {campaign.name}",
        [
            ("Audience", campaign.preview.get("audience", 0), "funnel"),
            ("Queued", c.get("queued_total", 0), "funnel"),
            ("Sent", c.get("sent", 0), "funnel"),
            ("Delivered", c.get("delivered", 0), "funnel"),
            ("Clicked", clickers, "funnel"),
            ("Skipped", sum(skipped.values()) + c.get("blocked", 0), "skip"),
            ("Failed", c.get("failed", 0), "loss"),
            ("Opted out", len(opt_outs), "loss"),
        ],
    )
    return Report(campaign, "\n".join(lines), await _csv(services, campaign.id), chart)


async def publish(services: Services, campaign_id: int, *, requested_by: str | None, post: bool = False) -> str:
    """Build the report, queue the chart and the CSV for upload into the campaign's thread, and return the
    summary text (the answer to `/sms campaign report ID`). With `post`, the summary is posted in the thread
    too (the full report a campaign gets when it completes; `requested_by` None)."""
    built = await build(services, campaign_id)
    campaign = built.campaign
    ref = campaign.progress_outbox_id or campaign.preview_outbox_id
    comment = (
        f"Report of campaign #{campaign.id}, requested by <@{requested_by}>."
        if requested_by
        else f"Report of campaign #{campaign.id}, on completion."
    )
    async with services.db.session() as session:
        if post:
            await outbox.enqueue(
                session,
                channel=campaign.channel,
                op="post",
                payload={"text": built.text},
            )
        chart = await media.store(
            session, data=built.chart, content_type="image/png", filename=f"campaign-{campaign.id}-funnel.png"
        )
        await outbox.enqueue(
            session,
            channel=campaign.channel,
            op="upload_file",
            payload={
                "ref_outbox_id": ref,
                "filename": chart.filename,
                "media_id": chart.id,
                "title": f"Campaign #{campaign.id} delivery funnel",
                "initial_comment": comment,
            },
        )
        await outbox.enqueue(
            session,
            channel=campaign.channel,
            op="upload_file",
            payload={
                "ref_outbox_id": ref,
                "filename": f"campaign-{campaign.id}-recipients.csv",
                "title": f"Campaign #{campaign.id} recipients",
                "content": built.csv,
            },
        )
    services.wakeups.poke_outbox()
    return built.text + (
        f"\nThe funnel chart and the per-recipient CSV are being uploaded to the campaign's "
        f"thread in <#{campaign.channel}>."
    )


async def _csv(services: Services, campaign_id: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["phone", "status", "skip_reason", "message_status", "error_code", "error", "sent_at", "clicks"])
    last = 0
    while True:
        async with services.db.session() as session:
            rows = (
                await session.execute(
                    select(
                        CampaignRecipient.id,
                        CampaignRecipient.phone,
                        CampaignRecipient.status,
                        CampaignRecipient.skip_reason,
                        Message.status,
                        Message.error_code,
                        Message.error_message,
                        Message.sent_at,
                    )
                    .outerjoin(Message, Message.id == CampaignRecipient.message_id)
                    .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.id > last)
                    .order_by(CampaignRecipient.id)
                    .limit(PAGE)
                )
            ).all()
            if not rows:
                break
            phones = [r[1] for r in rows]
            counted = await session.execute(
                select(CampaignLink.phone, func.sum(CampaignLink.clicks))
                .where(CampaignLink.campaign_id == campaign_id, CampaignLink.phone.in_(phones))
                .group_by(CampaignLink.phone)
            )
            clicks: Counter[str] = Counter({phone: int(n or 0) for phone, n in counted})
        for _rid, phone, status, reason, mstatus, code, error, sent_at in rows:
            writer.writerow(
                [
                    phone,
                    mstatus or status,  # what became of the text (delivered, failed...), or skipped
                    reason or "",
                    mstatus or "",
                    code or "",
                    error or "",
                    sent_at.isoformat() if sent_at else "",
                    clicks.get(phone, 0),
                ]
            )
        last = rows[-1][0]
    return out.getvalue()
