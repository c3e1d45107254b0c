"""The local playground: one web page to try the whole product with no accounts (local mode only).

``GET /`` serves a page with a phone on one side and the embedded Slack workspace's channel on the other.
The page plays two parts and nothing else:

* **the customer**: ``POST /_playground/inbound`` turns what they type into a signed inbound webhook to
  ``/sms/twilio/inbound``, exactly as ``sms-bridge simulate inbound`` (and Twilio) would send it; the texts the
  simulator carrier "delivers" come back on ``GET /_playground/phone/events`` (Server-Sent Events);
* **Slack**: the workspace's own human endpoints (``/_local/slack/say``, ``/command``, ``/action``, ...)
  and its ``/events`` stream.

So every click goes through the bot's real code paths. ``POST /_playground/contact`` saves the customer as a
contact through the contacts service, as the card's *Edit contact* does (campaigns go to contacts).
State here is in memory only.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.carriers.simulator import SIMULATOR_ACCOUNT_SID, SimulatedSend, SimulatorCarrier
from bot.contacts import service as contacts
from bot.local import sse
from bot.local.json_body import BadRequest, read_object
from bot.phone import InvalidPhoneNumber, parse_e164
from bot.services import Services

log = logging.getLogger(__name__)

PREFIX = "/_playground"
STATIC_DIR = Path(__file__).with_name("static")
MAX_TEXT = 1600
MAX_JSON_BYTES = 16 * 1024
PHONE_LOG_SIZE = 500  # texts remembered for a page that (re)loads
EVENT_QUEUE_SIZE = 500
# Customers to pick from: a few time zones, so one of them is awake for marketing (quiet hours apply).
SAMPLE_CUSTOMERS = (
    ("+14155550123", "San Francisco"),
    ("+12125550123", "New York"),
    ("+442079460123", "London"),
    ("+61291230123", "Sydney"),
)


class Playground:
    """The page, its static files, and the customer's side of the simulator carrier."""

    def __init__(self, services: Services, *, slack_prefix: str) -> None:
        self.services = services
        self.slack_prefix = slack_prefix
        self.texts: list[dict] = []  # what the phones sent and received, oldest first
        self._subscribers: set[asyncio.Queue] = set()
        self._carrier: SimulatorCarrier | None = None
        self._http: aiohttp.ClientSession | None = None

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/", self._page)
        app.router.add_static(PREFIX + "/static", STATIC_DIR, append_version=False)
        app.router.add_get(PREFIX + "/config", self._config)
        app.router.add_post(PREFIX + "/inbound", self._inbound)
        app.router.add_post(PREFIX + "/contact", self._contact)
        app.router.add_get(PREFIX + "/phone/texts", self._texts)
        app.router.add_get(PREFIX + "/phone/events", self._events)
        app.on_startup.append(self._on_startup)
        app.on_shutdown.append(self._on_shutdown)
        app.on_cleanup.append(self._on_cleanup)

    # ------------------------------------------------------------------ the simulator's deliveries

    async def _on_startup(self, app: web.Application) -> None:
        carrier = self.services.carrier
        if isinstance(carrier, SimulatorCarrier):
            self._carrier = carrier
            carrier.listeners.append(self.delivered)
        else:
            log.warning(
                "playground: the carrier is %s, not the simulator; the phone will not receive texts",
                getattr(carrier, "name", type(carrier).__name__),
            )

    async def _on_shutdown(self, app: web.Application) -> None:
        if self._carrier is not None and self.delivered in self._carrier.listeners:
            self._carrier.listeners.remove(self.delivered)
        for queue in list(self._subscribers):
            self._end(queue)

    async def _on_cleanup(self, app: web.Application) -> None:
        if self._http is not None:
            await self._http.close()

    def delivered(self, send: SimulatedSend) -> None:
        """A SimulatorCarrier listener: a text reached a customer's phone."""
        self._add(
            {
                "direction": "received",
                "phone": send.to,
                "line": send.sender,
                "body": send.body,
                "media_urls": list(send.media_urls),
                "sid": send.sid,
                "at": send.at.isoformat(),
            }
        )

    def _add(self, text: dict) -> None:
        self.texts.append(text)
        del self.texts[:-PHONE_LOG_SIZE]
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(text)
            except asyncio.QueueFull:  # a page that cannot keep up reloads /phone/texts when it reconnects
                self._end(queue)

    def _end(self, queue: asyncio.Queue) -> None:
        self._subscribers.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)

    # ------------------------------------------------------------------ HTTP

    async def _page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "playground.html", headers={"Cache-Control": "no-cache"})

    async def _config(self, request: web.Request) -> web.Response:
        services = self.services
        lines = [
            {"number": line.number, "channel": line.channel, "kind": line.kind, "brand": line.brand}
            for line in services.settings.lines
            if line.number
        ]
        settings = services.settings
        people = [
            {"id": "U0ALICE", "role": "agent"},
            {"id": "U0BOB", "role": "agent"},
            {"id": "U0ADMIN", "role": "admin"},
            {"id": "U0LEAD", "role": "approver"},
        ]
        for person in people:
            if person["id"] in settings.admins:
                person["role"] = "admin"
            elif person["id"] in settings.approvers:
                person["role"] = "approver"
        return web.json_response(
            {
                "slack": self.slack_prefix,
                "lines": lines,
                "people": people,
                "customers": [{"number": n, "label": label} for n, label in SAMPLE_CUSTOMERS],
                "phone_ready": self._carrier is not None,
            }
        )

    async def _texts(self, request: web.Request) -> web.Response:
        return web.json_response({"texts": self.texts})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        queue: asyncio.Queue = asyncio.Queue(maxsize=EVENT_QUEUE_SIZE)
        self._subscribers.add(queue)
        return await sse.stream(request, queue, on_close=lambda: self._subscribers.discard(queue))

    async def _inbound(self, request: web.Request) -> web.Response:
        """The customer texts a line: a signed inbound webhook to the bot, as Twilio would send it."""
        try:
            body = await _json_body(request)
            phone = _phone(body.get("from"), "from")
            line = _phone(body.get("to"), "to")
            text = body.get("text")
            if not isinstance(text, str) or not text.strip():
                raise BadRequest("text must be a non-empty string")
            if len(text) > MAX_TEXT:
                raise BadRequest(f"text is longer than {MAX_TEXT} characters")
        except BadRequest as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        if self._carrier is None:
            return web.json_response(
                {"ok": False, "error": "the playground phone needs SMS_PROVIDER=simulator"}, status=409
            )
        settings = self.services.settings
        url = settings.callback_url("/sms/twilio/inbound")
        sid = "SM" + secrets.token_hex(16)
        params = {
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "AccountSid": SIMULATOR_ACCOUNT_SID,
            "From": phone,
            "To": line,
            "Body": text,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        headers = {"X-Twilio-Signature": self._carrier.sign(url, params)}
        try:
            async with self._client().post(url, data=params, headers=headers) as resp:
                status, answer = resp.status, await resp.text()
        except (TimeoutError, aiohttp.ClientError) as exc:
            return web.json_response({"ok": False, "error": f"the webhook at {url} did not answer: {exc}"}, status=502)
        if status != 200:
            return web.json_response(
                {"ok": False, "error": f"the webhook answered {status}: {answer[:200]}"}, status=502
            )
        self._add(
            {
                "direction": "sent",
                "phone": phone,
                "line": line,
                "body": text,
                "media_urls": [],
                "sid": sid,
                "at": datetime.now(UTC).isoformat(),
            }
        )
        return web.json_response({"ok": True, "sid": sid})

    async def _contact(self, request: web.Request) -> web.Response:
        """Save a number as a contact (upsert of its first name), through the contacts service."""
        try:
            body = await _json_body(request)
            phone = _phone(body.get("phone"), "phone")
            name = body.get("first_name") or ""
            view = await contacts.save(self.services, phone, first_name=name or None)  # blank keeps the stored name
        except BadRequest as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        except contacts.ContactInputError as exc:
            return web.json_response({"ok": False, "error": f"{exc.field}: {exc}"}, status=400)
        return web.json_response({"ok": True, "report": f"Saved {view.phone} as {view.name or 'a contact'}."})

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._http


async def _json_body(request: web.Request) -> dict[str, Any]:
    return await read_object(request, MAX_JSON_BYTES)


def _phone(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{name} must be a phone number")
    try:
        return parse_e164(value)
    except InvalidPhoneNumber as exc:
        raise BadRequest(str(exc)) from None
