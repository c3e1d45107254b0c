"""GET /l/{code}: a campaign's tracked link. Redirects (302) to the original URL and counts the click."""

from __future__ import annotations

from aiohttp import web

from bot.campaigns import links
from handlers.common import SERVICES


async def redirect(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    code = request.match_info["code"]
    if not code.replace("-", "").replace("_", "").isalnum() or len(code) > 16:
        raise web.HTTPNotFound(text="unknown link")
    url = await links.follow(services, code)
    if url is None:
        raise web.HTTPNotFound(text="unknown link")
    raise web.HTTPFound(url, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def register(app: web.Application) -> None:
    app.router.add_get("/l/{code}", redirect)
