"""A Socket Mode front for the Slack emulator: `apps.connections.open` hands out a WebSocket that says hello
and stays open; every other Web API call goes on to the emulator. Enough for a bridge to start in Socket Mode."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from tests.support.bridge import free_port


class SocketModeFront:
    def __init__(self, slack_api_url: str) -> None:
        self.slack_api_url = slack_api_url.rstrip("/") + "/"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/"
        self.connections = 0
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    async def start(self) -> SocketModeFront:
        app = web.Application()
        app.router.add_post("/api/apps.connections.open", self._open)
        app.router.add_get("/link", self._link)
        app.router.add_route("*", "/api/{method}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _open(self, request: web.Request) -> web.Response:
        if not request.headers.get("Authorization", "").startswith("Bearer xapp-"):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"})

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.connections += 1
        self._sockets.add(socket)
        await socket.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0TEST"}})
        async for _message in socket:
            pass
        self._sockets.discard(socket)
        return socket

    async def _forward(self, request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
        async with aiohttp.ClientSession() as http:
            async with http.request(
                request.method,
                self.slack_api_url + request.match_info["method"],
                data=await request.read(),
                headers=headers,
            ) as resp:
                return web.Response(body=await resp.read(), status=resp.status, content_type=resp.content_type)
