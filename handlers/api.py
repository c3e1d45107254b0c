"""The HTTP API for other systems: pages (`POST /api/v1/notify`), their state, and Alertmanager webhooks.

Every route needs `Authorization: Bearer <token>` of a key with the `notify` scope (or a token from
`[notify] api_tokens`). Errors are JSON `{"error": "..."}` naming what is wrong.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp import web

from bot import limits
from bot.api import keys
from bot.notify import alertmanager, service
from bot.notify.service import IdempotencyConflict, NotifyError
from bot.validation import InvalidInput, check_text, load_json, parse_digits
from handlers.common import SERVICES

NOTIFY_FIELDS = {"to", "text", "policy"}
MAX_IDEMPOTENCY_KEY = 150
MAX_JSON_BYTES = 1024 * 1024
REALM = 'Bearer realm="sms-bridge"'


def register(app: web.Application) -> None:
    app.router.add_post("/api/v1/notify", post_notify)
    app.router.add_get("/api/v1/notifications/{id}", get_notification)
    app.router.add_post("/api/v1/alertmanager", post_alertmanager)


def _error(cls: type[web.HTTPException], message: str, **headers: str) -> web.HTTPException:
    return cls(text=json.dumps({"error": message}), content_type="application/json", headers=headers or None)


async def authorize(request: web.Request, scope: str = "notify") -> str:
    """The hash of the presented bearer token if it is one we know with `scope`; 401 with WWW-Authenticate
    otherwise, 403 for a key without the scope (see bot.api.keys)."""
    header = request.headers.get("Authorization", "")
    if not header.strip():
        raise _error(web.HTTPUnauthorized, "missing Authorization: Bearer <token>", **{"WWW-Authenticate": REALM})
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _error(
            web.HTTPUnauthorized,
            "Authorization must use the Bearer scheme: Bearer <token>",
            **{"WWW-Authenticate": REALM + ', error="invalid_request"'},
        )
    caller = await keys.authenticate(request.app[SERVICES], token.strip())
    if caller is None:
        raise _error(web.HTTPUnauthorized, "invalid token", **{"WWW-Authenticate": REALM + ', error="invalid_token"'})
    if not caller.may(scope):
        raise _error(web.HTTPForbidden, f"this key has no {scope!r} scope")
    return caller.token_hash


async def read_json(request: web.Request) -> tuple[Any, bytes]:
    """The body's JSON document (size and depth checked before parsing); 415/400 naming the problem."""
    if request.content_type != "application/json":
        raise _error(
            web.HTTPUnsupportedMediaType,
            f"Content-Type must be application/json, got {request.content_type or 'nothing'}",
        )
    raw = await request.read()
    try:
        return load_json(raw, "body", max_bytes=MAX_JSON_BYTES), raw
    except InvalidInput as exc:
        raise _error(web.HTTPBadRequest, str(exc)) from None


def _notify_request(body: Any) -> tuple[service.Target, str]:
    if not isinstance(body, dict):
        raise NotifyError('body must be a JSON object like {"to": "group:oncall", "text": "..."}')
    extra = sorted(set(body) - NOTIFY_FIELDS)
    if extra:
        raise NotifyError(f"unknown field(s): {', '.join(extra)} (allowed: to, text, policy)")
    for name in ("to", "text"):
        if name not in body:
            raise NotifyError(f"missing field {name!r}")
        if not isinstance(body[name], str):
            raise NotifyError(f"field {name!r} must be a string")
        try:
            check_text(body[name], name, limit=limits.NOTIFICATION_TARGET if name == "to" else None)
        except InvalidInput as exc:
            raise NotifyError(str(exc)) from None
    try:
        target = service.parse_target(body["to"])
    except NotifyError as exc:
        raise NotifyError(f"to: {exc}") from None
    try:
        text = service.check_text(body["text"])
    except NotifyError as exc:
        raise NotifyError(f"text: {exc}") from None
    if not isinstance(body.get("policy", ""), str):
        raise NotifyError("field 'policy' must be a string (the name of a [notify.policies.NAME] table)")
    return target, text


async def post_notify(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    token_hash = await authorize(request)
    body, _raw = await read_json(request)
    key = request.headers.get("Idempotency-Key")
    if key is not None and (not key.strip() or len(key) > MAX_IDEMPOTENCY_KEY):
        raise _error(web.HTTPBadRequest, f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} characters")
    try:
        target, text = _notify_request(body)
        members = await service.resolve(services, target)
        request_hash = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        created = await service.create(
            services,
            target=target,
            members=members,
            text=text,
            source="api",
            line=service.paging_line(services),
            channel=service.default_channel(services),
            created_by=f"api:{token_hash[:12]}",
            # Keys are per API token: two clients cannot collide on the same key.
            idempotency_key=f"api:{token_hash[:16]}:{key}" if key is not None else None,
            request_hash=request_hash,
            policy=body.get("policy"),
        )
    except IdempotencyConflict as exc:
        raise _error(web.HTTPUnprocessableEntity, str(exc)) from None
    except NotifyError as exc:
        raise _error(web.HTTPBadRequest, str(exc)) from None
    headers = {"Location": f"/api/v1/notifications/{created.notification.id}"}
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response(
        {"id": created.notification.id, "recipients": created.recipients}, status=202, headers=headers
    )


async def get_notification(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    await authorize(request)
    raw_id = request.match_info["id"]
    try:
        notification_id = parse_digits(raw_id, "id", maximum=limits.NOTIFICATION_ID_MAX)
    except InvalidInput as exc:
        raise _error(web.HTTPNotFound, f"no such notification ({exc})") from None
    state = await service.describe(services, notification_id)
    if state is None:
        raise _error(web.HTTPNotFound, f"no notification {raw_id!r}")
    return web.json_response(state)


async def post_alertmanager(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    await authorize(request)
    body, _raw = await read_json(request)
    try:
        created = await alertmanager.receive(services, body)
    except alertmanager.NoRoute as exc:
        raise _error(web.HTTPUnprocessableEntity, str(exc)) from None
    except NotifyError as exc:
        raise _error(web.HTTPBadRequest, str(exc)) from None
    if created is None:  # a resolved group that never paged anybody
        return web.json_response({"id": None, "recipients": 0, "duplicate": True})
    return web.json_response(
        {"id": created.notification.id, "recipients": created.recipients, "duplicate": created.replayed}
    )
