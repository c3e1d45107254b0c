"""Slack's Socket Mode in front of the workspace emulator: ``apps.connections.open`` and the WebSocket protocol,
on a loopback port. Every other Web API call goes on to the SlackEmulator, so the bridge's ``SLACK_API_URL``
points here.

The protocol, as Slack documents it (https://api.slack.com/apis/socket-mode, and
https://docs.slack.dev/reference/methods/apps.connections.open):

- ``apps.connections.open`` takes the app-level token (``xapp-``) in the Authorization header only, and answers
  ``{"ok": true, "url": "wss://.../link/?ticket=...&app_id=..."}``.
- On connecting, Slack sends ``{"type": "hello", "num_connections": N, "debug_info": {...},
  "connection_info": {"app_id": ...}}``.
- Each delivery is an envelope ``{"envelope_id", "type": "events_api" | "slash_commands" | "interactive",
  "payload", "accepts_response_payload"}``; ``events_api`` envelopes also carry ``retry_attempt`` and
  ``retry_reason`` (a redelivery of an event not acknowledged in time). The app acknowledges with
  ``{"envelope_id": ...}``, plus ``"payload"`` where the envelope accepts one (a command's message, a
  submission's ``response_action``).
- Slack may send ``{"type": "disconnect", "reason": "warning" | "refresh_requested" | "link_disabled",
  "debug_info": {"host": ...}}``; the app opens a new connection (refresh) or stops (link disabled).
- With several connections open, Slack hands each envelope to one of them.

An envelope that is not acknowledged (the connection dropped, say) is delivered again on a connection that is
open, as Slack retries; `deliver` waits for one.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import uuid
from typing import Any

import aiohttp
from aiohttp import web

from .slack_api import SlackEmulator

ACK_TIMEOUT = 10.0  # seconds a test waits for an acknowledgement before redelivering (Slack: 3 seconds)


class Unacknowledged(Exception):
    """An envelope no connection acknowledged in time."""


class SocketModeEmulator:
    """`apps.connections.open`, the Socket Mode WebSocket, and the rest of the Web API passed on to `slack`."""

    def __init__(self, slack: SlackEmulator, *, app_token: str = "xapp-1-A0APP-1-secret") -> None:
        self.slack = slack
        self.app_token = app_token
        self.url = ""  # the Web API base URL to give the bridge (SLACK_API_URL)
        self.port = 0
        self.opened = 0  # apps.connections.open calls answered
        self.connections = 0  # WebSockets accepted, in all
        self.acks: list[dict] = []  # every acknowledgement received, in order
        self.frames: list[dict] = []  # every frame sent to the app, in order
        self._sockets: dict[web.WebSocketResponse, web.Request] = {}
        self._pending: dict[str, asyncio.Future] = {}
        self._turn = itertools.count()
        self._connected = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> SocketModeEmulator:
        app = web.Application(client_max_size=64 * 1024**2)
        app.router.add_post("/api/apps.connections.open", self._open)
        app.router.add_get("/link/", self._link)
        app.router.add_route("*", "/api/{method}", self._forward)
        app.router.add_get("/files-pri/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self.port}/api/"
        return self

    async def stop(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def open_connections(self) -> int:
        return sum(1 for socket in self._sockets if not socket.closed)

    async def wait_for_connections(self, count: int = 1, timeout: float = 30.0) -> None:
        async with self._connected:
            await asyncio.wait_for(self._connected.wait_for(lambda: self.open_connections >= count), timeout)

    # ------------------------------------------------------------------ HTTP

    async def _open(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return web.json_response({"ok": False, "error": "not_authed"})
        if not secrets.compare_digest(header[len("Bearer ") :], self.app_token):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        self.opened += 1
        ticket = uuid.uuid4()
        return web.json_response(
            {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.slack.app_id}"}
        )

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.connections += 1
        self._sockets[socket] = request
        await self._send(
            socket,
            {
                "type": "hello",
                "num_connections": self.open_connections,
                "debug_info": {
                    "host": f"applink-{self.connections}",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.slack.app_id},
            },
        )
        async with self._connected:
            self._connected.notify_all()
        try:
            async for message in socket:
                if message.type == aiohttp.WSMsgType.TEXT:
                    self._acknowledged(json.loads(message.data))
        finally:
            self._sockets.pop(socket, None)
        return socket

    def _acknowledged(self, ack: dict) -> None:
        self.acks.append(ack)
        future = self._pending.get(str(ack.get("envelope_id")))
        if future is not None and not future.done():
            future.set_result(ack)

    async def _forward(self, request: web.Request) -> web.Response:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
        target = self.slack.root + request.path_qs
        async with self._http.request(request.method, target, data=await request.read(), headers=headers) as resp:
            return web.Response(body=await resp.read(), status=resp.status, content_type=resp.content_type)

    async def _send(self, socket: web.WebSocketResponse, frame: dict) -> None:
        self.frames.append(frame)
        await socket.send_str(json.dumps(frame))

    def file(self, file: dict) -> dict:
        """A file object from SlackEmulator.add_file, its URLs on this host (the one the bridge calls Slack at)."""
        root = f"http://127.0.0.1:{self.port}"
        return {k: v.replace(self.slack.root, root) if k.startswith("url_private") else v for k, v in file.items()}

    # ------------------------------------------------------------------ what Slack sends

    async def deliver(
        self,
        kind: str,
        payload: dict,
        *,
        accepts_response_payload: bool,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
        timeout: float = ACK_TIMEOUT,
    ) -> dict:
        """Send one envelope on one open connection (taking turns) and return its acknowledgement; waits for a
        connection when none is open. An `events_api` envelope not acknowledged within 3 seconds is delivered
        again (retry_attempt + 1, retry_reason "timeout"), as Slack redelivers events; other kinds are not.
        Unacknowledged after `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        attempt = retry_attempt
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise Unacknowledged(f"a {kind} envelope was never acknowledged")
            envelope: dict[str, Any] = {
                "envelope_id": str(uuid.uuid4()),
                "payload": payload,
                "type": kind,
                "accepts_response_payload": accepts_response_payload,
            }
            if kind == "events_api":
                envelope["retry_attempt"] = attempt or 0
                envelope["retry_reason"] = retry_reason or ""
            future: asyncio.Future = loop.create_future()
            self._pending[envelope["envelope_id"]] = future
            try:
                await self.wait_for_connections(1, timeout=remaining)
                sockets = [socket for socket in self._sockets if not socket.closed]
                await self._send(sockets[next(self._turn) % len(sockets)], envelope)
                wait = min(remaining, 3.0) if kind == "events_api" else remaining
                return await asyncio.wait_for(future, wait)
            except (ConnectionError, RuntimeError, IndexError):
                continue  # that connection was gone before the envelope went out
            except TimeoutError:
                if kind != "events_api":
                    raise Unacknowledged(f"a {kind} envelope was not acknowledged") from None
                attempt, retry_reason = (attempt or 0) + 1, "timeout"
            finally:
                self._pending.pop(envelope["envelope_id"], None)

    async def event(self, event: dict, *, event_id: str, retry_attempt: int | None = None) -> dict:
        """An Events API event (Slack's `event_callback` wrapper around it); a redelivery has `retry_attempt`."""
        return await self.deliver(
            "events_api",
            self.slack.event_envelope(event, event_id=event_id),
            accepts_response_payload=False,
            retry_attempt=retry_attempt,
            retry_reason="timeout" if retry_attempt else None,
        )

    async def user_message(self, *, channel: str, user: str, text: str, thread_ts: str | None = None) -> dict:
        """A person posts (stored in the workspace) and its `message` event goes out; returns the message."""
        message = self.slack.user_posts(channel=channel, user=user, text=text, thread_ts=thread_ts)
        await self.message_event(message)
        return message

    async def message_event(self, message: dict, *, retry_attempt: int | None = None) -> dict:
        from bot.local.slack import shapes

        event = shapes.message_event(self.slack.workspace, message)
        return await self.event(event, event_id=message["event_id"], retry_attempt=retry_attempt)

    async def command(self, **fields: Any) -> dict:
        """A slash command (the fields of SlackEmulator.command_fields); what its acknowledgement carries is
        shown in the workspace as Slack shows a command's answer. Returns the acknowledgement."""
        payload = self.slack.command_fields(**fields)
        self.slack.workspace.remember_trigger(payload["trigger_id"], payload["user_id"])
        ack = await self.deliver("slash_commands", payload, accepts_response_payload=True)
        if isinstance(ack.get("payload"), dict):
            self.slack.response_urls.show(
                ack["payload"], {"user": payload["user_id"], "channel": payload["channel_id"]}
            )
        return ack

    async def interaction(self, payload: dict) -> dict:
        """An interactivity payload (block_actions, view_submission, ...); returns the acknowledgement."""
        payload = self.slack.action_payload(payload)
        user = payload["user"] if isinstance(payload.get("user"), dict) else {}
        if payload.get("trigger_id"):
            self.slack.workspace.remember_trigger(str(payload["trigger_id"]), str(user.get("id") or ""))
        accepts = payload.get("type") in ("view_submission", "block_suggestion")
        ack = await self.deliver("interactive", payload, accepts_response_payload=accepts)
        if isinstance(ack.get("payload"), dict):
            self.slack._check_answer("interactive acknowledgement", ack["payload"])
        return ack

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's `disconnect` message on every open connection ("warning", "refresh_requested",
        "link_disabled"); the connections stay open until the app closes them."""
        for socket in [s for s in self._sockets if not s.closed]:
            await self._send(socket, {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-1"}})

    def drop(self) -> None:
        """Every open connection is cut (no close frame): a network failure, as the app sees it."""
        for socket, request in list(self._sockets.items()):
            if request.transport is not None:
                request.transport.abort()
            self._sockets.pop(socket, None)
