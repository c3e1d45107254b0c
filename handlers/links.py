"""GET /l/{code}: a campaign's tracked link. Redirects (302) to the original URL and counts the click."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import update

from handlers.common import SERVICES
from storage.models.campaigns import CampaignLink


async def redirect(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    code = request.match_info["code"]
    if not code.replace("-", "").replace("_", "").isalnum() or len(code) > 16:
        raise web.HTTPNotFound(text="unknown link")
    now = services.clock.now()
    async with services.db.session() as session:
        link = await session.get(CampaignLink, code)
        if link is None:
            raise web.HTTPNotFound(text="unknown link")
        url = link.url
        await session.execute(
            update(CampaignLink)
            .where(CampaignLink.code == code)
            .values(clicks=CampaignLink.clicks + 1, last_click_at=now, first_click_at=link.first_click_at or now)
        )
    raise web.HTTPFound(url, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def register(app: web.Application) -> None:
    app.router.add_get("/l/{code}", redirect)
