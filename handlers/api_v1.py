"""The HTTP API for texts to customers: `/api/v1/messages`, `/api/v1/verifications`, and the OpenAPI description.

Every route takes `Authorization: Bearer <key>` of a key with the route's scope. Errors are JSON
`{"error": {"code": "...", "message": "<field>: ..."}}`; a refused request changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.api import idempotency, messages, openapi, rules, verifications
from bot.api.keys import Principal, authenticate
from bot.api.rules import ApiError
from bot.services import Services
from bot.validation import InvalidInput, load_json
from handlers.common import SERVICES

MAX_JSON_BYTES = 64 * 1024
REALM = 'Bearer realm="sms-bridge"'
_Handler = Callable[[web.Request, Services, Principal], Awaitable[web.Response]]


def register(app: web.Application) -> None:
    app.router.add_post("/api/v1/messages", post_message)
    app.router.add_get("/api/v1/messages/{id}", get_message)
    app.router.add_delete("/api/v1/messages/{id}", delete_message)
    app.router.add_post("/api/v1/verifications", post_verification)
    app.router.add_post("/api/v1/verifications/check", post_check)
    app.router.add_get("/api/v1/openapi.json", get_openapi)


def _answer(status: int, body: dict, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def _failure(exc: ApiError) -> web.Response:
    return _answer(exc.status, exc.body(), exc.headers or None)


async def _caller(request: web.Request, scope: str | None) -> Principal:
    header = request.headers.get("Authorization", "").strip()
    if not header:
        raise ApiError(
            401, "unauthorized", "Authorization: missing; send Bearer <key>", headers={"WWW-Authenticate": REALM}
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "unauthorized",
            "Authorization: must use the Bearer scheme: Bearer <key>",
            headers={"WWW-Authenticate": REALM + ', error="invalid_request"'},
        )
    caller = await authenticate(request.app[SERVICES], token.strip())
    if caller is None:
        raise ApiError(
            401,
            "unauthorized",
            "Authorization: unknown or revoked key",
            headers={"WWW-Authenticate": REALM + ', error="invalid_token"'},
        )
    if scope is not None and not caller.may(scope):
        raise ApiError(403, "forbidden", f"Authorization: this key has no {scope!r} scope")
    return caller


async def _body(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type: must be application/json, got {request.content_type or 'nothing'}",
        )
    raw = await request.read()
    try:
        return load_json(raw, "body", max_bytes=MAX_JSON_BYTES)
    except InvalidInput as exc:
        raise ApiError(400, "invalid_json", str(exc)) from None


def _key(request: web.Request, caller: Principal, route: str, body: Any) -> idempotency.Key | None:
    raw = rules.check_idempotency_key(request.headers.get("Idempotency-Key"))
    caller_id = str(caller.key_id) if caller.key_id is not None else caller.token_hash[:16]
    return idempotency.scoped(caller_id, route, raw, rules.request_hash(body))


def _replayed(answer: idempotency.Answer, location: str | None = None) -> web.Response:
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    if location:
        headers["Location"] = location
    return _answer(answer.status, answer.body, headers)


def _id(request: web.Request) -> str:
    raw = request.match_info["id"]
    if not rules.MESSAGE_ID.fullmatch(raw):
        raise ApiError(404, "not_found", f"id: no message {raw[:40]!r}")
    return raw


def _route(scope: str | None) -> Callable[[_Handler], Callable[[web.Request], Awaitable[web.Response]]]:
    """A route that needs a key with `scope` (None: any key); every refusal becomes its JSON error answer."""

    def wrap(handler: _Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def route(request: web.Request) -> web.Response:
            try:
                caller = await _caller(request, scope)
                return await handler(request, request.app[SERVICES], caller)
            except ApiError as exc:
                return _failure(exc)

        return route

    return wrap


async def _posted(request: web.Request, caller: Principal, route: str) -> tuple[Any, idempotency.Key | None]:
    """A POST's JSON body and its idempotency key."""
    body = await _body(request)
    return body, _key(request, caller, route, body)


@_route("messages")
async def post_message(request: web.Request, services: Services, caller: Principal) -> web.Response:
    body, key = await _posted(request, caller, "messages")
    parsed = rules.read_message_request(body, services.settings, services.lines, services.clock.now())
    answer = await messages.create(services, caller, parsed, key)
    return _replayed(answer, f"/api/v1/messages/{answer.body.get('id')}")


@_route("messages")
async def get_message(request: web.Request, services: Services, caller: Principal) -> web.Response:
    return _answer(200, await messages.get(services, caller, _id(request)))


@_route("messages")
async def delete_message(request: web.Request, services: Services, caller: Principal) -> web.Response:
    return _answer(200, await messages.cancel(services, caller, _id(request)))


@_route("verify")
async def post_verification(request: web.Request, services: Services, caller: Principal) -> web.Response:
    body, key = await _posted(request, caller, "verifications")
    phone, line = rules.read_verification_request(body, services.settings, services.lines)
    return _replayed(await verifications.start(services, caller, phone, line, key))


@_route("verify")
async def post_check(request: web.Request, services: Services, caller: Principal) -> web.Response:
    body, key = await _posted(request, caller, "verifications/check")
    phone, code = rules.read_check_request(body)
    return _replayed(await verifications.check(services, caller, phone, code, key))


@_route(None)
async def get_openapi(request: web.Request, services: Services, caller: Principal) -> web.Response:
    return _answer(200, openapi.document(services.settings.public_url))
