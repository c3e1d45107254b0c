"""GET /l/{code}: a campaign's tracked link. Redirects (302) to the original URL and counts the click."""

from __future__ import annotations

import re

from aiohttp import web

from bot.campaigns import links
from handlers.common import SERVICES

LINK_CODE = re.compile(r"[A-Za-z0-9_-]+")  # secrets.token_urlsafe's alphabet (bot.campaigns.template)


async def redirect(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    code = request.match_info["code"]
    if not LINK_CODE.fullmatch(code) or len(code) > links.CODE_MAX_LENGTH:
        raise web.HTTPNotFound(text="unknown link")
    url = await links.follow(services, code)
    if url is None:
        raise web.HTTPNotFound(text="unknown link")
    raise web.HTTPFound(url, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def register(app: web.Application) -> None:
    app.router.add_get("/l/{code}", redirect)
