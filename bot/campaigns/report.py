"""`/sms campaign report ID`: the funnel, carrier errors with their meaning, attributed opt-outs, clicks,
and a per-recipient CSV (built page by page from the database)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from bot.campaigns.audience import SKIP_REASONS
from bot.campaigns.service import CampaignError, counts
from bot.carriers import twilio_errors
from bot.services import Services
from storage.models import ConsentEvent, Message
from storage.models.campaigns import Campaign, CampaignLink, CampaignRecipient

OPT_OUT_WINDOW = timedelta(hours=72)
PAGE = 1000


async def build(services: Services, campaign_id: int) -> tuple[Campaign, str, str]:
    """(campaign, report text, CSV text)."""
    now = services.clock.now()
    async with services.db.session() as session:
        campaign = await session.get(Campaign, campaign_id)
        if campaign is None:
            raise CampaignError(f"There is no campaign #{campaign_id}.")
        c = await counts(session, campaign, now)
        errors = (await session.execute(
            select(Message.error_code, func.count(Message.id)).select_from(CampaignRecipient)
            .join(Message, Message.id == CampaignRecipient.message_id)
            .where(CampaignRecipient.campaign_id == campaign.id, Message.error_code.is_not(None))
            .group_by(Message.error_code).order_by(func.count(Message.id).desc())
        )).all()
        blocked_reasons = (await session.execute(
            select(Message.error_message, func.count(Message.id)).select_from(CampaignRecipient)
            .join(Message, Message.id == CampaignRecipient.message_id)
            .where(CampaignRecipient.campaign_id == campaign.id, Message.status == "blocked")
            .group_by(Message.error_message)
        )).all()
        opt_outs = set()
        if campaign.started_at is not None:
            rows = await session.execute(
                select(CampaignRecipient.phone, Message.sent_at, ConsentEvent.created_at)
                .join(Message, Message.id == CampaignRecipient.message_id)
                .join(ConsentEvent, ConsentEvent.phone == CampaignRecipient.phone)
                .where(CampaignRecipient.campaign_id == campaign.id, Message.sent_at.is_not(None),
                       ConsentEvent.action == "opt_out", ConsentEvent.created_at >= campaign.started_at)
            )
            opt_outs = {phone for phone, sent_at, at in rows if sent_at <= at <= sent_at + OPT_OUT_WINDOW}
        clicks, clickers = (await session.execute(
            select(func.coalesce(func.sum(CampaignLink.clicks), 0),
                   func.count(func.distinct(CampaignLink.phone)).filter(CampaignLink.clicks > 0))
            .where(CampaignLink.campaign_id == campaign.id)
        )).one()
    skipped = dict(campaign.skipped or {})
    lines = [
        f"*Report for campaign #{campaign.id} {campaign.name}* ({campaign.state})",
        f"Funnel: audience {campaign.preview.get('audience', 0)} → queued {c.get('queued_total', 0)} → "
        f"sent {c.get('sent', 0)} → delivered {c.get('delivered', 0)} → clicked {clickers} "
        f"({clicks} clicks)",
        "Skipped before sending: " + (", ".join(f"{SKIP_REASONS.get(k, k)} {v}" for k, v in sorted(skipped.items())) or "none"),
        f"Blocked at send time: {c.get('blocked', 0)}; failed/undelivered: {c.get('failed', 0)}; "
        f"deferred (quiet hours): {c.get('deferred', 0)}; cancelled: {c.get('cancelled', 0)}",
    ]
    if errors:
        lines.append("Carrier errors:")
        lines += [f"• {code}: {n} — {twilio_errors.describe(code)}" for code, n in errors]
    if blocked_reasons:
        lines += [f"• blocked ({n}): {reason}" for reason, n in blocked_reasons]
    lines.append(f"Opt-outs within 72 h of a campaign text: {len(opt_outs)}")
    return campaign, "\n".join(lines), await _csv(services, campaign.id)


async def _csv(services: Services, campaign_id: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["phone", "status", "skip_reason", "message_status", "error_code", "error", "sent_at", "clicks"])
    last = 0
    while True:
        async with services.db.session() as session:
            rows = (await session.execute(
                select(CampaignRecipient.id, CampaignRecipient.phone, CampaignRecipient.status,
                       CampaignRecipient.skip_reason, Message.status, Message.error_code, Message.error_message,
                       Message.sent_at)
                .outerjoin(Message, Message.id == CampaignRecipient.message_id)
                .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.id > last)
                .order_by(CampaignRecipient.id).limit(PAGE)
            )).all()
            if not rows:
                break
            phones = [r[1] for r in rows]
            clicks = Counter(dict((await session.execute(
                select(CampaignLink.phone, func.sum(CampaignLink.clicks))
                .where(CampaignLink.campaign_id == campaign_id, CampaignLink.phone.in_(phones))
                .group_by(CampaignLink.phone))).all()))
        for rid, phone, status, reason, mstatus, code, error, sent_at in rows:
            writer.writerow([phone, status, reason or "", mstatus or "", code or "", error or "",
                             sent_at.isoformat() if sent_at else "", clicks.get(phone, 0)])
        last = rows[-1][0]
    return out.getvalue()
