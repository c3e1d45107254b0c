"""What the HTTP handlers share: the services key, form reading with clear 4xx errors, a clear 503 while the
database is away, and a logged, plain 500 for anything else that escapes a handler."""

from __future__ import annotations

import logging
import time

from aiohttp import web

from bot.services import Services
from bot.validation import InvalidInput, parse_form
from storage.db import storage_unreachable

SERVICES = web.AppKey("services", Services)
FORM_TYPES = ("application/x-www-form-urlencoded",)
STORAGE_RETRY_AFTER = "5"

log = logging.getLogger(__name__)


@web.middleware
async def measured(request: web.Request, handler):
    """Count and time every answer by route pattern and status (sms_bridge_http_answers_total,
    sms_bridge_http_answer_seconds)."""
    started, status = time.perf_counter(), 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = _route(request)
        metrics = request.app[SERVICES].metrics
        metrics.http_answers.labels(route, str(status)).inc()
        metrics.http_answer_time.labels(route).observe(time.perf_counter() - started)


@web.middleware
async def unhandled_errors(request: web.Request, handler):
    """Inside `measured`, outside the rest: an exception no handler expected is logged with the route and its
    traceback, and answered a plain 500 that shows neither (nothing about the internals leaks to the caller)."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        log.exception("%s %s: %s", request.method, _route(request), type(exc).__name__)
        return web.Response(status=500, text="Internal error; nothing was done. The service log has the details.")


def _route(request: web.Request) -> str:
    """The route's pattern (`/media/{token}`), not the path: a path may be long, or hold a secret token."""
    info = request.match_info.route.resource
    return info.canonical if info is not None else "(no route)"


@web.middleware
async def storage_unavailable(request: web.Request, handler):
    """Nothing was stored, so nothing is acknowledged: 503 with Retry-After, for the sender to try again,
    rather than a bare 500."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        if not storage_unreachable(exc):
            raise
        log.warning("%s %s refused: the database is unavailable (%s)", request.method, request.path, type(exc).__name__)
        raise web.HTTPServiceUnavailable(
            text="The database is unavailable; nothing was stored. Try again shortly.",
            headers={"Retry-After": STORAGE_RETRY_AFTER},
        ) from None


def bad_request(reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=reason)


async def read_form(request: web.Request) -> dict[str, str]:
    """A url-encoded form body as a dict (first value of repeated fields); 415/400 with the reason otherwise."""
    if request.content_type not in FORM_TYPES:
        raise web.HTTPUnsupportedMediaType(text=f"expected {FORM_TYPES[0]}, got {request.content_type or 'nothing'}")
    try:
        return parse_form(await request.read())
    except InvalidInput as exc:
        raise bad_request(str(exc)) from None
