"""Reading the local pages' JSON requests: one object, size and depth limits (bot.validation), and a 400 that
says what was wrong."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.validation import InvalidInput, load_json, require_object


class BadRequest(Exception):
    """A request that cannot be carried out (answered 400 with the reason)."""


async def read_limited(stream: Any, limit: int) -> bytes | None:
    """Read a body without holding more than `limit` bytes; None when it is larger."""
    chunks: list[bytes] = []
    size = 0
    while True:
        # a request body (StreamReader.read) or one multipart part (BodyPartReader.read_chunk)
        chunk = await stream.read_chunk() if hasattr(stream, "read_chunk") else await stream.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)


async def read_object(request: web.Request, limit: int) -> dict[str, Any]:
    """The request's JSON object. Requiring application/json also keeps other web pages from posting here
    (no simple cross-site form)."""
    if request.content_type != "application/json":
        raise BadRequest("send a JSON body with Content-Type: application/json")
    if request.content_length is not None and request.content_length > limit:
        raise BadRequest(f"body larger than {limit} bytes")
    data = await read_limited(request.content, limit)
    if data is None:
        raise BadRequest(f"body larger than {limit} bytes")
    try:
        return require_object(load_json(data, "body", max_bytes=limit), "body")
    except InvalidInput as exc:
        raise BadRequest(str(exc)) from None
