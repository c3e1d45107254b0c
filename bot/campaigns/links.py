"""Tracked links in campaign texts: a click is counted, and answered with the original URL."""

from __future__ import annotations

from sqlalchemy import update

from bot.services import Services
from storage.models.campaigns import CampaignLink


async def follow(services: Services, code: str) -> str | None:
    """Count a click on the link `code` and return where it leads; None if there is no such link."""
    now = services.clock.now()
    async with services.db.session() as session:
        link = await session.get(CampaignLink, code)
        if link is None:
            return None
        url = link.url
        await session.execute(
            update(CampaignLink)
            .where(CampaignLink.code == code)
            .values(clicks=CampaignLink.clicks + 1, last_click_at=now, first_click_at=link.first_click_at or now)
        )
    return url
