"""`GET /media/{token}`: outbound MMS attachments, for the carrier to fetch while the link is valid."""

from __future__ import annotations

from aiohttp import web

from bot.media import fetch, read_token
from handlers.common import SERVICES


async def media(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    media_id = read_token(services.settings.media_secret, request.match_info["token"], services.clock.now())
    if media_id is None:
        raise web.HTTPNotFound(text="unknown or expired media link")
    item = await fetch(services, media_id)
    if item is None:
        raise web.HTTPNotFound(text="unknown or expired media link")
    return web.Response(
        body=item.data,
        content_type=item.content_type,
        headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


def register(app: web.Application) -> None:
    app.router.add_get("/media/{token}", media)
