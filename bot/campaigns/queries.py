"""Reads about campaigns for the people managing them: the latest campaigns, one campaign with its audit trail."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.campaigns.service import CampaignError
from bot.validation import InvalidInput, parse_id
from storage.models.campaigns import Campaign, CampaignEvent

RECENT = 25  # campaigns `/sms campaign list` shows, newest first


def campaign_id(text: str) -> int:
    """A campaign number as a person writes it (`12` or `#12`); CampaignError naming what is wrong otherwise."""
    try:
        return parse_id(text.strip().lstrip("#"), "campaign number", Campaign.id)
    except InvalidInput as exc:
        raise CampaignError(f"{exc}; `/sms campaign list` shows them.") from None


async def recent(session: AsyncSession, limit: int = RECENT) -> list[Campaign]:
    """The latest campaigns, newest first."""
    return list((await session.scalars(select(Campaign).order_by(Campaign.id.desc()).limit(limit))).all())


async def with_history(session: AsyncSession, campaign_id: int) -> tuple[Campaign, list[CampaignEvent]]:
    """A campaign and its audit trail, oldest event first; CampaignError if there is no such campaign."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError(f"There is no campaign #{campaign_id}.")
    events = await session.scalars(
        select(CampaignEvent).where(CampaignEvent.campaign_id == campaign_id).order_by(CampaignEvent.id)
    )
    return campaign, list(events.all())
