"""Server-Sent Events for the local pages: one helper that streams a queue until it yields None."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from aiohttp import web

KEEPALIVE_SECONDS = 15.0


async def stream(
    request: web.Request,
    queue: asyncio.Queue,
    *,
    event_id: Callable[[dict], object] | None = None,
    on_close: Callable[[], None] = lambda: None,
) -> web.StreamResponse:
    """Send each item of `queue` as an SSE `data:` line (JSON), with keep-alives, until None or the page goes."""
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    try:
        await response.write(b": connected\n\n")
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if item is None:
                break
            prefix = f"id: {event_id(item)}\n" if event_id else ""
            await response.write(f"{prefix}data: {json.dumps(item)}\n\n".encode())
    except ConnectionResetError:  # the page went away
        pass
    finally:
        on_close()
    return response
