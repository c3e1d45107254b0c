"""What the HTTP handlers share: the services key, form reading with clear 4xx errors."""

from __future__ import annotations

from urllib.parse import parse_qsl

from aiohttp import web

from bot.services import Services

SERVICES = web.AppKey("services", Services)
FORM_TYPES = ("application/x-www-form-urlencoded",)


def bad_request(reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=reason)


async def read_form(request: web.Request) -> dict[str, str]:
    """A url-encoded form body as a dict (first value of repeated fields); 415/400 with the reason otherwise."""
    if request.content_type not in FORM_TYPES:
        raise web.HTTPUnsupportedMediaType(text=f"expected {FORM_TYPES[0]}, got {request.content_type or 'nothing'}")
    raw = await request.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("body is not valid UTF-8") from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise bad_request("body is not a valid url-encoded form") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form
