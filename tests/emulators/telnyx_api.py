"""A loopback emulator of Telnyx's Messaging API v2: sends, detail records, media, and Ed25519-signed webhooks.

Shapes as Telnyx documents them (see bot/carriers/telnyx/ for the pages; tests/support/telnyx_openapi.py holds
every request, answer and webhook to Telnyx's OpenAPI description): `POST /v2/messages` answers
`{"data": {...message...}}` or `{"errors": [{"code", "title", "detail"}]}`; webhooks are
`{"data": {"record_type": "event", "id", "event_type", "occurred_at", "payload"}}` (and `meta` on receipts) signed
with `telnyx-signature-ed25519` (base64) over `f"{telnyx-timestamp}|{body}"`. A detail record has a status only
once its message is final, one of the record's own values (FINAL_STATUSES). The signing key is the test's.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ._base import RECORD_KEY, Fault, LoopbackServer, post_with_retries

# A message's final recipient status (message.finalized) -> its detail record's status, which has values of its own
# (MessageDetailRecord.status: delivered, failed, gw_reject, gw_timeout, dlr_unconfirmed, dlr_timeout, received).
# Until the message is final its detail record has no status (the schema has none for queued or sent).
FINAL_STATUSES = {
    "delivered": "delivered",
    "delivery_failed": "failed",
    "sending_failed": "gw_reject",
    "delivery_unconfirmed": "dlr_unconfirmed",
}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def public_key_b64(key: Ed25519PrivateKey) -> str:
    """The base64 public key, as Mission Control shows it (TELNYX_PUBLIC_KEY)."""
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def _error(status: int, code: int, title: str, detail: str) -> web.Response:
    body = {"errors": [{"code": str(code), "title": title, "detail": detail}]}
    return web.json_response(body, status=status)


class TelnyxEmulator(LoopbackServer):
    """Telnyx Messaging API v2 + media host + signed webhooks to the app."""

    def __init__(
        self,
        signing_key: Ed25519PrivateKey,
        *,
        api_key: str = "KEY-test-telnyx",
        auto_status: list[str] | None = ["sent", "delivered"],  # noqa: B006 - never mutated
        status_delay: float = 0.05,
    ) -> None:
        super().__init__()
        self.signing_key = signing_key
        self.public_key = public_key_b64(signing_key)
        self.api_key = api_key
        self.auto_status = list(auto_status) if auto_status else None
        self.status_delay = status_delay
        self.sent: list[dict] = []  # what reached Telnyx to send: id, to, from, body, media_urls, status_callback
        self.requests: list[dict] = []
        self.records: dict[str, dict] = {}  # message id -> detail record
        self.number_errors: dict[str, tuple[int, str, str]] = {}  # to -> (code, title, at: api | delivery)
        self.media: dict[str, tuple[bytes, str]] = {}
        self.webhooks: list[dict] = []  # every webhook sent: event_type, url, status
        self.answers_to_drop = 0  # sends performed, then the connection dropped before the answer
        self.event_hooks: list[Callable[[dict], None]] = []  # called with every webhook document it sends

    # ------------------------------------------------------------------ setup

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/messages", self._create)
        app.router.add_get("/v2/detail_records", self._detail_records)
        app.router.add_get("/v2/messages/{id}", self._retrieve)
        app.router.add_get("/v2/media/{name}", self._media)

    def drop_answers(self, count: int) -> None:
        """The next `count` sends are performed, then their connection is dropped unanswered (the answer lost)."""
        self.answers_to_drop = count

    def fail(self, kind: str, seconds: float, *, retry_after: int = 1) -> None:
        self._add_fault(kind, seconds, retry_after, None)

    def set_number_error(self, to: str, code: int, title: str, *, at: str = "api") -> None:
        self.number_errors[to] = (code, title, at)

    def add_media(self, content: bytes, content_type: str) -> str:
        name = uuid.uuid4().hex
        self.media[name] = (content, content_type)
        return f"{self.url}/v2/media/{name}"

    def _fault_response(self, fault: Fault) -> web.StreamResponse:
        if fault.kind == "429":
            response = _error(429, 10011, "Too many requests", "You have exceeded the maximum number of requests.")
            response.headers["Retry-After"] = str(fault.retry_after)
            return response
        return _error(int(fault.kind), 10007, "Unexpected error", "An unexpected error occured.")

    async def _record_request(self, request: web.Request) -> None:
        record = {
            "method": request.method,
            "path": request.path,
            "query": request.query_string,
            "body": await request.read() if request.can_read_body else b"",
            "status": None,
        }
        request[RECORD_KEY] = record
        self.requests.append(record)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.api_key}"

    # ------------------------------------------------------------------ API

    async def _create(self, request: web.Request) -> web.StreamResponse | None:
        if not self._authorized(request):
            return _error(401, 10009, "Authentication failed", "The required authentication headers were invalid.")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _error(400, 10015, "Bad Request", "The request failed because it was not well-formed.")
        to, sender = body.get("to"), body.get("from")
        if not isinstance(to, str) or not isinstance(sender, str) or not to.startswith("+"):
            return _error(400, 10016, "Phone number must be in +E.164 format", "to and from must be E.164")
        if to in self.number_errors and self.number_errors[to][2] == "api":
            code, title, _ = self.number_errors[to]
            return _error(400, code, title, f"Messages cannot be sent from '{sender}' to '{to}'.")
        now = time.time()
        message_id = str(uuid.uuid4())
        media_urls = list(body.get("media_urls") or [])
        text = body.get("text") or ""
        record = {
            "id": message_id,
            "to": to,
            "from": sender,
            "body": text,
            "media_urls": media_urls,
            "status_callback": body.get("webhook_url"),
        }
        self.sent.append(record)
        self.records[message_id] = {
            "record_type": "message_detail_record",
            "uuid": message_id,
            "cld": to,
            "cli": sender,
            "direction": "outbound",
            "message_type": "MMS" if media_urls else "SMS",
            "created_at": _iso(now),
        }
        record["received_at"] = now
        data = self._message(record, "queued", now)
        if body.get("webhook_url"):
            self._spawn(self._progress(record))
        if self.answers_to_drop > 0:
            self.answers_to_drop -= 1
            return None  # the base server drops the connection: Telnyx has the message, the bridge no answer
        return web.json_response({"data": data})

    def _message(self, record: dict, status: str, now: float, errors: list | None = None) -> dict:
        """The message resource (OutboundMessagePayload) as it stands at `now` with this recipient status."""
        sent_at = record.get("sent_at")
        if sent_at is None and status not in ("queued", "sending", "sending_failed"):
            sent_at = now
        final = status in FINAL_STATUSES
        message = {
            "record_type": "message",
            "direction": "outbound",
            "id": record["id"],
            "type": "MMS" if record["media_urls"] else "SMS",
            "from": {"phone_number": record["from"], "carrier": "TELNYX LLC", "line_type": "VoIP"},
            "to": [{"phone_number": record["to"], "status": status, "carrier": "T-MOBILE USA, INC."}],
            "text": record["body"],
            "media": [{"url": url} for url in record["media_urls"]],
            "encoding": "GSM-7",
            "parts": max(1, -(-len(record["body"]) // 160)),
            "errors": errors or [],
            "received_at": _iso(record.get("received_at", now)),
            "sent_at": _iso(sent_at) if sent_at is not None else None,
            "completed_at": _iso(now) if final else None,
        }
        if record["status_callback"]:
            message["webhook_url"] = record["status_callback"]
        return message

    async def _progress(self, record: dict) -> None:
        failure = self.number_errors.get(record["to"])
        plan: list[tuple[str, str, list]] = []
        if failure is not None and failure[2] == "delivery":
            code, title, _ = failure
            plan = [
                ("message.sent", "sent", []),
                ("message.finalized", "delivery_failed", [{"code": str(code), "title": title}]),
            ]
        elif self.auto_status:
            for status in self.auto_status:
                plan.append(("message.finalized" if status != "sent" else "message.sent", status, []))
        for event_type, status, errors in plan:
            await asyncio.sleep(self.status_delay)
            now = time.time()
            detail = self.records[record["id"]]
            if status == "sent":
                record["sent_at"] = now
                detail["sent_at"] = _iso(now)
            if status in FINAL_STATUSES:
                detail["status"] = FINAL_STATUSES[status]
                detail["completed_at"] = _iso(now)
            payload = self._message(record, status, now, errors)
            await self.deliver(record["status_callback"], event_type, payload)

    async def _detail_records(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return _error(401, 10009, "Authentication failed", "The required authentication headers were invalid.")
        q = request.query
        if q.get("filter[record_type]") != "messaging":
            return _error(400, 10015, "Bad Request", "filter[record_type] must be specified")
        found = [
            r
            for r in self.records.values()
            if (not q.get("filter[cld]") or r["cld"] == q["filter[cld]"])
            and (not q.get("filter[cli]") or r["cli"] == q["filter[cli]"])
            and (not q.get("filter[direction]") or r["direction"] == q["filter[direction]"])
            and (
                not q.get("filter[created_at][gte]")
                or datetime.fromisoformat(r["created_at"]) >= datetime.fromisoformat(q["filter[created_at][gte]"])
            )
        ]
        found.sort(key=lambda r: r["created_at"], reverse=q.get("sort") == "-created_at")
        size = int(q.get("page[size]", "20"))
        number = int(q.get("page[number]", "1"))
        pages = max(1, -(-len(found) // size))
        meta = {"page_number": number, "page_size": size, "total_pages": pages, "total_results": len(found)}
        return web.json_response({"data": found[(number - 1) * size : number * size], "meta": meta})

    async def _retrieve(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return _error(401, 10009, "Authentication failed", "The required authentication headers were invalid.")
        record = next((r for r in self.sent if r["id"] == request.match_info["id"]), None)
        if record is None:
            return _error(404, 10005, "Resource not found", "The requested resource could not be found.")
        status = next(
            (s for s, final in FINAL_STATUSES.items() if final == self.records[record["id"]].get("status")), None
        )
        status = status or ("sent" if record.get("sent_at") is not None else "queued")
        return web.json_response({"data": self._message(record, status, time.time())})

    async def _media(self, request: web.Request) -> web.StreamResponse:
        item = self.media.get(request.match_info["name"])
        if item is None:
            return web.Response(status=404)
        return web.Response(body=item[0], content_type=item[1])

    # ------------------------------------------------------------------ webhooks

    def sign(self, body: bytes, timestamp: str) -> str:
        return base64.b64encode(self.signing_key.sign(timestamp.encode() + b"|" + body)).decode()

    def event(self, event_type: str, payload: dict, event_id: str | None = None, url: str | None = None) -> dict:
        """A webhook document: InboundMessageEvent for message.received (its `data` only), OutboundMessageEvent for
        message.sent and message.finalized (with `meta`, the attempt and the URL, when `url` is given)."""
        document: dict = {
            "data": {
                "record_type": "event",
                "id": event_id or str(uuid.uuid4()),
                "event_type": event_type,
                "occurred_at": _iso(time.time()),
                "payload": payload,
            }
        }
        if url and event_type != "message.received":
            document["meta"] = {"attempt": 1, "delivered_to": url}
        return document

    async def post_event(
        self,
        url: str,
        document: dict | bytes,
        *,
        timestamp: str | None = None,
        signature: str | None = None,
        headers: dict | None = None,
    ) -> tuple[int, str]:
        """POST one webhook, signed unless `headers` is given (then exactly those headers are sent)."""
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        stamp = timestamp or str(int(time.time()))
        if headers is None:
            headers = {"telnyx-timestamp": stamp, "telnyx-signature-ed25519": signature or self.sign(body, stamp)}
        headers = {"Content-Type": "application/json", **headers}
        result = await post_with_retries(self._client(), url, data=body, headers=headers)
        status, text = result if isinstance(result, tuple) else (0, str(result))
        return status, text

    async def deliver(self, url: str, event_type: str, payload: dict, event_id: str | None = None) -> tuple[int, str]:
        document = self.event(event_type, payload, event_id, url)
        for hook in self.event_hooks:
            hook(document)
        status, text = await self.post_event(url, document)
        self.webhooks.append({"event_type": event_type, "url": url, "status": status})
        return status, text

    def inbound_payload(
        self, *, from_: str, to: str, body: str, media: list | tuple = (), message_id: str = ""
    ) -> dict:
        return {
            "record_type": "message",
            "direction": "inbound",
            "id": message_id or str(uuid.uuid4()),
            "type": "MMS" if media else "SMS",
            "messaging_profile_id": "0f512bda-ae1e-4597-8e11-e5f5686b97d3",
            "from": {"phone_number": from_, "carrier": "T-MOBILE USA, INC.", "line_type": "Wireless"},
            "to": [{"phone_number": to, "status": "delivered", "carrier": "TELNYX LLC", "line_type": "VoIP"}],
            "cc": [],
            "text": body,
            "media": [{"url": url, "content_type": kind, "size": 1} for url, kind in media],
            "encoding": "GSM-7",
            "parts": 1,
            "received_at": _iso(time.time()),
        }

    async def send_inbound(
        self,
        app_base_url: str,
        *,
        from_: str,
        to: str,
        body: str = "",
        media: list[tuple[str, str]] | tuple = (),
        message_sid: str | None = None,
        event_id: str | None = None,
    ) -> tuple[int, str, str]:
        """A customer's text to `to`, as Telnyx delivers it (message.received). Returns (status, body, message id)."""
        message_id = message_sid or str(uuid.uuid4())
        payload = self.inbound_payload(from_=from_, to=to, body=body, media=media, message_id=message_id)
        url = app_base_url.rstrip("/") + "/sms/telnyx/webhook"
        status, text = await self.deliver(url, "message.received", payload, event_id)
        return status, text, message_id
