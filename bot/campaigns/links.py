"""Tracked links in campaign texts: a click is counted, and answered with the original URL."""

from __future__ import annotations

from sqlalchemy import update

from bot.services import Services
from bot.validation import max_length
from storage.models.campaigns import CampaignLink

CODE_MAX_LENGTH = max_length(CampaignLink.code) or 0


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
