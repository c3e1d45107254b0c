"""Loopback emulator of Twilio Programmable Messaging (REST API, media host, webhooks).

The app sends with aiohttp to ``{emulator.url}/2010-04-01/Accounts/{AccountSid}/Messages.json``;
tests drive inbound texts and delivery receipts with ``send_inbound`` / ``send_status``, signed
with Twilio's own RequestValidator.

The Message list (GET ``Messages.json``) behaves as Twilio's API description says: filters ``To``, ``From``,
``DateSent``, ``DateSent<`` (on or before) and ``DateSent>`` (on or after), a date filter matching only messages
that have a ``date_sent`` (a message still ``queued`` has none); newest first by ``date_sent`` (a message not sent
yet sorts by its ``date_created``); pages of ``PageSize`` (default 50, at most 1000) linked by ``next_page_uri``,
whose ``PageToken`` names the last message of the page so that new messages never shift the pages that follow.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email.utils
import math
import random
import re
import time
import uuid
from urllib.parse import urlencode, urlparse

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

from ._base import RECORD_KEY, Fault, LoopbackServer, post_with_retries

API = "/2010-04-01"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_BODY = 1600
MAX_MEDIA = 10
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")

DEFAULT_ERROR_MESSAGES = {
    21211: "Invalid 'To' Phone Number: {to}",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number: {to}, is not currently reachable using the 'From' phone number via SMS.",
    21614: "'To' number is not a valid mobile number",
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    30008: "Unknown error",
    11200: "HTTP retrieval failure",
}
# Delivery errors after which Twilio reports "failed" (never left Twilio) rather than "undelivered".
FAILED_NOT_UNDELIVERED = {30001, 30002, 30032, 30034, 11200}


def _sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def _rfc2822(epoch: float) -> str:
    return email.utils.formatdate(epoch, usegmt=False).replace("-0000", "+0000")


def num_segments(body: str) -> int:
    """SMS segments for `body`: GSM-7 160/153 septets, otherwise UCS-2 70/67 code units."""
    if not body:
        return 1
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in body):
        septets = sum(2 if c in GSM7_EXTENDED else 1 for c in body)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """(user, password) from an HTTP Basic Authorization header, None if absent or malformed."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _country(number: str) -> str:
    for prefix, country in (("+1", "US"), ("+44", "GB"), ("+33", "FR"), ("+49", "DE"), ("+61", "AU")):
        if number.startswith(prefix):
            return country
    return ""


class TwilioApiError(Exception):
    """Answered as Twilio's JSON error document."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self, headers: dict | None = None) -> web.Response:
        body = {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }
        return web.json_response(body, status=self.status, headers=headers)


class TwilioEmulator(LoopbackServer):
    """Twilio Messaging REST API + media host + signed webhooks to the app."""

    def __init__(
        self,
        *,
        account_sid: str = "AC" + "1" * 32,
        auth_token: str = "test-auth-token",
        auto_status: list[str] | None = ["sent", "delivered"],  # noqa: B006 - never mutated
        status_delay: float = 0.05,
        messaging_service_from: str = "+15005550006",
        queue_hold: float | tuple[float, float] = 0.0,
        list_lag: float = 0.0,
    ) -> None:
        """queue_hold: seconds (or a (low, high) range) a created message stays `queued`, its date_sent null,
        before it moves on (Twilio holds texts over a sender's throughput or under carrier throttling).
        list_lag: seconds before a created message shows in the Message list."""
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.auto_status = list(auto_status) if auto_status else None
        self.status_delay = status_delay
        self.messaging_service_from = messaging_service_from  # sender Twilio picks for a Messaging Service
        self.queue_hold = queue_hold
        self.list_lag = list_lag
        self.answers_to_drop = 0  # creates performed, then the connection dropped before the answer

        self.sent: list[dict] = []
        self.requests: list[dict] = []
        self.resources: dict[str, dict] = {}  # message sid -> Message resource JSON (outbound and inbound)
        self._times: dict[str, list] = {}  # message sid -> [created, sent or None] (epoch seconds)
        self._by_to: dict[str, list[str]] = {}  # to -> sids, in creation order
        self.number_errors: dict[str, tuple[int, str, str]] = {}  # to -> (code, message, at)
        self.media: dict[str, tuple[bytes, str]] = {}  # media path -> (content, content type)
        self.webhooks: list[dict] = []  # every webhook sent to the app: kind, url, params, status or error
        self.callback_failures: list[dict] = []
        self._validator = RequestValidator(auth_token)

    # ------------------------------------------------------------------ setup

    def _add_routes(self, app: web.Application) -> None:
        account = API + "/Accounts/{account}"
        app.router.add_post(account + "/Messages.json", self._handle_create)
        app.router.add_get(account + "/Messages.json", self._handle_list)
        app.router.add_get(account + "/Messages/{sid}.json", self._handle_fetch)
        app.router.add_get(account + "/Messages/{sid}/Media/{media}", self._handle_media)
        app.router.add_route("*", API + "/{tail:.*}", self._handle_not_found)

    def fail(self, kind: str, seconds: float, *, retry_after: int = 1) -> None:
        """For `seconds` from now, answer every REST/media request with a fault.

        kind: "500"/"503" (Twilio JSON 20500/20503), "429" (20429 + Retry-After),
        "timeout" (hold unanswered until the window ends, then drop), "down" (drop the connection).
        """
        self._add_fault(kind, seconds, retry_after, None)

    def drop_answers(self, count: int) -> None:
        """The next `count` creates are performed (the message exists and goes out) but their connection is
        dropped before the answer is sent, as a proxy reset or a network cut would."""
        self.answers_to_drop += count

    def set_number_error(self, to: str, code: int, message: str | None = None, *, at: str = "api") -> None:
        """Make sends to `to` fail with Twilio error `code`.

        at="api": the POST is refused (HTTP 400), e.g. 21211, 21610, 21614.
        at="callback": the POST is accepted, then the status callback reports "undelivered"
        (or "failed" for errors that never leave Twilio) with ErrorCode, e.g. 30003, 30006.
        """
        if at not in {"api", "callback"}:
            raise ValueError("at must be 'api' or 'callback'")
        text = message or DEFAULT_ERROR_MESSAGES.get(code, "Error").format(to=to)
        self.number_errors[to] = (code, text, at)

    def add_media(self, content: bytes, content_type: str) -> str:
        """Host `content` like Twilio hosts inbound MMS media; returns its (auth-protected) URL."""
        if not self.url:
            raise RuntimeError("start() the TwilioEmulator before adding media")
        path = f"{API}/Accounts/{self.account_sid}/Messages/{_sid('MM')}/Media/{_sid('ME')}"
        self.media[path] = (content, content_type)
        return self.url + path

    # ------------------------------------------------------------- assertions

    def per_second_counts(self) -> dict[int, int]:
        """Accepted sends per wall-clock second (epoch second -> count)."""
        counts: dict[int, int] = {}
        for record in self.sent:
            counts[record["epoch"]] = counts.get(record["epoch"], 0) + 1
        return counts

    def _state_summary(self) -> str:
        statuses = [(r["to"], r["status"]) for r in self.sent[-10:]]
        return (
            f"sent={len(self.sent)} last={statuses}, requests={len(self.requests)}, faults={dict(self.faults_injected)}"
        )

    # ------------------------------------------------------------ REST API

    async def _record_request(self, request: web.Request) -> None:
        form = await request.post() if request.method == "POST" else {}
        record = {
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "form": {k: form.getall(k) if len(form.getall(k)) > 1 else form[k] for k in form} if form else {},
            "at": time.monotonic(),
            "status": None,
        }
        request[RECORD_KEY] = record
        self.requests.append(record)

    def _fault_response(self, fault: Fault) -> web.StreamResponse:
        code, status, message = {
            "429": (20429, 429, "Too Many Requests"),
            "500": (20500, 500, "Internal Server Error"),
            "503": (20503, 503, "Service Unavailable"),
        }[fault.kind]
        headers = {"Retry-After": str(fault.retry_after)} if fault.kind == "429" else None
        return TwilioApiError(status, code, message).response(headers)

    def _internal_error_response(self) -> web.StreamResponse:
        return TwilioApiError(500, 20500, "Internal Server Error").response()

    def _authenticate(self, request: web.Request) -> None:
        if _basic_credentials(request.headers.get("Authorization", "")) != (self.account_sid, self.auth_token):
            raise TwilioApiError(401, 20003, "Authenticate")
        if request.match_info.get("account") != self.account_sid:
            raise TwilioApiError(404, 20404, f"The requested resource {request.path} was not found")

    async def _api(self, request: web.Request, handler) -> web.StreamResponse:
        try:
            self._authenticate(request)
            return await handler(request)
        except TwilioApiError as err:
            headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if err.status == 401 else None
            return err.response(headers)

    async def _handle_not_found(self, request: web.Request) -> web.StreamResponse:
        return TwilioApiError(404, 20404, f"The requested resource {request.path} was not found").response()

    async def _handle_create(self, request: web.Request) -> web.StreamResponse:
        return await self._api(request, self._create)

    async def _handle_list(self, request: web.Request) -> web.StreamResponse:
        return await self._api(request, self._list)

    async def _handle_fetch(self, request: web.Request) -> web.StreamResponse:
        return await self._api(request, self._fetch)

    async def _handle_media(self, request: web.Request) -> web.StreamResponse:
        return await self._api(request, self._media)

    def _validate_send(self, form) -> None:
        to, sender, service = form.get("To", ""), form.get("From", ""), form.get("MessagingServiceSid", "")
        body, media_urls = form.get("Body", ""), form.getall("MediaUrl", [])
        if not to:
            raise TwilioApiError(400, 21604, "A 'To' phone number is required.")
        if not sender and not service:
            raise TwilioApiError(400, 21603, "A 'From' phone number is required.")
        if service and not re.fullmatch(r"MG[0-9a-f]{32}", service):
            raise TwilioApiError(400, 21701, f"The Messaging Service Sid {service} is invalid.")
        if sender and not E164.match(sender):
            raise TwilioApiError(400, 21212, f"Invalid From Number (caller ID): {sender}")
        if not body and not media_urls:
            raise TwilioApiError(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY:
            raise TwilioApiError(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if len(media_urls) > MAX_MEDIA:
            raise TwilioApiError(400, 21623, "Number of media files exceeds allowed limit.")
        if any(urlparse(u).scheme not in {"http", "https"} for u in media_urls):
            raise TwilioApiError(400, 21620, "Invalid media URL(s)")
        callback = form.get("StatusCallback", "")
        if callback and urlparse(callback).scheme not in {"http", "https"}:
            raise TwilioApiError(400, 21609, "Invalid StatusCallback url")
        if not E164.match(to):
            raise TwilioApiError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        code, message, at = self.number_errors.get(to, (0, "", ""))
        if at == "api":
            raise TwilioApiError(400, code, message)

    def _new_resource(
        self,
        *,
        sid: str,
        to: str,
        from_: str | None,
        body: str,
        service: str | None,
        num_media: int,
        direction: str,
        status: str,
    ) -> dict:
        now = time.time()
        uri = f"{API}/Accounts/{self.account_sid}/Messages/{sid}"
        resource = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": _rfc2822(now),
            "date_sent": _rfc2822(now) if direction == "inbound" else None,
            "date_updated": _rfc2822(now),
            "direction": direction,
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": service,
            "num_media": str(num_media),
            # A Messaging Service picks the sender later, so Twilio reports 0 segments at first.
            "num_segments": "0" if service and not from_ else str(num_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": status,
            "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
            "to": to,
            "uri": f"{uri}.json",
        }
        self.resources[sid] = resource
        self._times[sid] = [now, now if direction == "inbound" else None]
        self._by_to.setdefault(to, []).append(sid)
        return resource

    async def _create(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        self._validate_send(form)
        sender = form.get("From") or None
        service = form.get("MessagingServiceSid") or None
        media_urls = form.getall("MediaUrl", [])
        resource = self._new_resource(
            sid=_sid("MM" if media_urls else "SM"),
            to=form["To"],
            from_=sender,
            body=form.get("Body", ""),
            service=service,
            num_media=len(media_urls),
            direction="outbound-api",
            status="queued" if sender else "accepted",
        )
        now = time.time()
        record = {
            "sid": resource["sid"],
            "to": resource["to"],
            "from": sender,
            "messaging_service_sid": service,
            "body": resource["body"],
            "media_urls": media_urls,
            "status_callback": form.get("StatusCallback") or None,
            "at": time.monotonic(),
            "epoch": int(now),
            "status": resource["status"],
            "media_fetched": [],
            "callbacks": [],
        }
        self.sent.append(record)
        self._spawn(self._progress(record))
        if self.answers_to_drop > 0:
            self.answers_to_drop -= 1
            self.faults_injected["answer_dropped"] += 1
            return None  # the middleware drops the connection: created, never answered
        return web.json_response(resource, status=201)

    def _date_filter(self, query) -> list:
        """(operator, bound) pairs from DateSent / DateSent< / DateSent> query parameters."""
        filters = []
        for key, op in (("DateSent", "="), ("DateSent>", ">"), ("DateSent<", "<")):
            if key not in query:
                continue
            try:
                bound = dt.date.fromisoformat(query[key][:10])
            except ValueError:
                raise TwilioApiError(400, 20001, f"Invalid value for {key}: {query[key]}") from None
            filters.append((op, bound))
        return filters

    def _listed(self, sid: str, query, filters: list, now: float) -> bool:
        resource = self.resources[sid]
        created, sent = self._times[sid]
        if now < created + self.list_lag:
            return False
        if query.get("To") and resource["to"] != query["To"]:
            return False
        if query.get("From") and resource["from"] != query["From"]:
            return False
        if not filters:
            return True
        if sent is None:
            return False  # a message not sent yet has no date_sent for a DateSent filter to match
        day = dt.datetime.fromtimestamp(sent, dt.UTC).date()
        checks = {"=": day.__eq__, ">": day.__ge__, "<": day.__le__}
        return all(checks[op](bound) for op, bound in filters)

    def _newest_first(self, sids: list[str]) -> list[str]:
        """`sids` (in creation order) most recent first: by date_sent, or by date_created while not sent; later
        creation first among equals."""
        ranked = sorted(enumerate(sids), key=lambda item: (self._times[item[1]][1] or self._times[item[1]][0], item[0]))
        return [sid for _, sid in reversed(ranked)]

    async def _list(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        filters = self._date_filter(query)
        try:
            page_size = min(max(int(query.get("PageSize", 50)), 1), 1000)
            page = max(int(query.get("Page", 0)), 0)
        except ValueError:
            raise TwilioApiError(400, 20001, "Invalid paging parameters") from None
        now = time.time()
        candidates = self._by_to.get(query["To"], []) if query.get("To") else list(self.resources)
        matching = [sid for sid in self._newest_first(candidates) if self._listed(sid, query, filters, now)]
        token = query.get("PageToken")
        offset = page * page_size
        if token:
            after = token.removeprefix("PA")
            if after not in matching:
                raise TwilioApiError(400, 20001, f"Invalid PageToken: {token}")
            offset = matching.index(after) + 1
        chunk = [self.resources[sid] for sid in matching[offset : offset + page_size]]
        base = {k: v for k, v in query.items() if k not in {"Page", "PageSize", "PageToken"}}

        def page_uri(number: int, page_token: str | None = None) -> str:
            params = {**base, "PageSize": page_size, "Page": number}
            if page_token:
                params["PageToken"] = page_token
            return f"{API}/Accounts/{self.account_sid}/Messages.json?" + urlencode(params)

        has_next = offset + page_size < len(matching)
        return web.json_response(
            {
                "messages": chunk,
                "page": page,
                "page_size": page_size,
                "start": offset,
                "end": offset + max(len(chunk) - 1, 0),
                "uri": page_uri(page, token),
                "first_page_uri": page_uri(0),
                "next_page_uri": page_uri(page + 1, "PA" + chunk[-1]["sid"]) if has_next else None,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            }
        )

    async def _fetch(self, request: web.Request) -> web.StreamResponse:
        resource = self.resources.get(request.match_info["sid"])
        if resource is None:
            raise TwilioApiError(404, 20404, f"The requested resource {request.path} was not found")
        return web.json_response(resource)

    async def _media(self, request: web.Request) -> web.StreamResponse:
        content, content_type = self.media.get(request.path, (None, ""))
        if content is None:
            raise TwilioApiError(404, 20404, f"The requested resource {request.path} was not found")
        return web.Response(body=content, content_type=content_type)

    # ------------------------------------------------------------ message lifecycle

    async def _fetch_media(self, record: dict) -> bool:
        """Download each MediaUrl like Twilio does before sending an MMS; True if all succeeded."""
        ok = True
        for url in record["media_urls"]:
            try:
                async with self._client().get(url) as resp:
                    record["media_fetched"].append((resp.status, await resp.read()))
                    ok = ok and 200 <= resp.status < 300
            except (TimeoutError, aiohttp.ClientError):
                record["media_fetched"].append((0, b""))
                ok = False
        return ok

    def _planned_statuses(self, record: dict, media_ok: bool) -> list[tuple[str, int | None]]:
        code, _, at = self.number_errors.get(record["to"], (0, "", ""))
        if not media_ok:
            code, at = 11200, "callback"
        if at == "callback":
            if code in FAILED_NOT_UNDELIVERED:
                return [("failed", code)]
            return [("sent", None), ("undelivered", code)]
        return [(status, None) for status in self.auto_status or []]

    async def _progress(self, record: dict) -> None:
        """Background: fetch media, then walk the message through its statuses with callbacks."""
        media_ok = await self._fetch_media(record)
        hold = self.queue_hold if isinstance(self.queue_hold, int | float) else random.uniform(*self.queue_hold)
        if hold:
            await asyncio.sleep(hold)
        for status, code in self._planned_statuses(record, media_ok):
            await asyncio.sleep(self.status_delay)
            self._set_status(record, status, code)
            if record["status_callback"]:
                await self._status_callback(record, status, code)

    def _set_status(self, record: dict, status: str, code: int | None) -> None:
        resource = self.resources[record["sid"]]
        now = _rfc2822(time.time())
        resource.update(status=status, date_updated=now)
        if resource["from"] is None and status in {"sent", "delivered", "undelivered", "failed"}:
            resource["from"] = self.messaging_service_from
            resource["num_segments"] = str(num_segments(resource["body"]))
        if status == "sent" or (status in {"delivered", "undelivered"} and not resource["date_sent"]):
            resource["date_sent"] = now
            self._times[record["sid"]][1] = time.time()
        if code is not None:
            resource["error_code"] = code
            resource["error_message"] = DEFAULT_ERROR_MESSAGES.get(code, "Error")
            if record["to"] in self.number_errors:
                resource["error_message"] = self.number_errors[record["to"]][1]
        record["status"] = status

    async def _status_callback(self, record: dict, status: str, code: int | None) -> None:
        resource = self.resources[record["sid"]]
        params = {
            "MessageSid": record["sid"],
            "SmsSid": record["sid"],
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": self.account_sid,
            "From": resource["from"] or "",
            "To": record["to"],
            "ApiVersion": "2010-04-01",
        }
        if record["messaging_service_sid"]:
            params["MessagingServiceSid"] = record["messaging_service_sid"]
        if code is not None:
            params["ErrorCode"] = str(code)
        result = await self._webhook("status", record["status_callback"], params, None, record["status_callback"])
        record["callbacks"].append((status, result))

    # ------------------------------------------------------------ webhooks to the app

    def sign(self, url: str, params: dict) -> str:
        """X-Twilio-Signature for a form POST of `params` to `url`."""
        return self._validator.compute_signature(url, params)

    async def _webhook(
        self, kind: str, url: str, params: dict, signature: str | None, signed_url: str
    ) -> tuple[int, str] | str:
        """POST a signed form to the app; connection failures are retried, then recorded."""
        headers = {
            "X-Twilio-Signature": signature or self.sign(signed_url, params),
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
            "User-Agent": "TwilioProxy/1.1",
        }
        result = await post_with_retries(self._client(), url, data=params, headers=headers)
        entry = {"kind": kind, "url": url, "params": params}
        if isinstance(result, BaseException):
            entry["error"] = repr(result)
            self.callback_failures.append(entry)
            self.webhooks.append(entry)
            return repr(result)
        entry["status"], entry["body"] = result
        self.webhooks.append(entry)
        return result

    async def send_inbound(
        self,
        app_base_url: str,
        *,
        from_: str,
        to: str,
        body: str = "",
        media: list[tuple[str, str]] | tuple = (),
        message_sid: str | None = None,
        signed_url: str | None = None,
        signature: str | None = None,
        messaging_service_sid: str | None = None,
    ) -> tuple[int, str, str]:
        """Deliver an incoming SMS/MMS to `app_base_url`/sms/twilio/inbound like Twilio.

        media: (url, content_type) pairs, e.g. from add_media(). signed_url: the URL used in the
        signature (default: the URL posted to; pass the public URL when the app sits behind a proxy).
        signature: override to test rejection. Returns (status, body, message_sid); connection
        errors are retried and then reported as status 0.
        """
        url = app_base_url.rstrip("/") + "/sms/twilio/inbound"
        sid = message_sid or _sid("MM" if media else "SM")
        params = self._inbound_params(sid, from_, to, body, list(media), messaging_service_sid)
        self._new_resource(
            sid=sid,
            to=to,
            from_=from_,
            body=body,
            service=messaging_service_sid,
            num_media=len(media),
            direction="inbound",
            status="received",
        )
        result = await self._webhook("inbound", url, params, signature, signed_url or url)
        status, text = result if isinstance(result, tuple) else (0, result)
        return status, text, sid

    def _inbound_params(self, sid: str, from_: str, to: str, body: str, media: list, service: str | None) -> dict:
        params = {
            "ToCountry": _country(to),
            "ToState": "",
            "ToCity": "",
            "ToZip": "",
            "FromCountry": _country(from_),
            "FromState": "",
            "FromCity": "",
            "FromZip": "",
            "SmsMessageSid": sid,
            "NumMedia": str(len(media)),
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": body,
            "To": to,
            "NumSegments": str(num_segments(body)),
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "ApiVersion": "2010-04-01",
        }
        if service:
            params["MessagingServiceSid"] = service
        for index, (media_url, content_type) in enumerate(media):
            params[f"MediaUrl{index}"] = media_url
            params[f"MediaContentType{index}"] = content_type
        return params

    async def send_status(
        self,
        callback_url: str,
        *,
        message_sid: str,
        status: str,
        error_code: int | None = None,
        signature: str | None = None,
    ) -> tuple[int, str]:
        """Deliver one signed status callback for `message_sid`; returns (status, body), 0 if unreachable."""
        resource = self.resources.get(message_sid, {})
        params = {
            "MessageSid": message_sid,
            "SmsSid": message_sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": self.account_sid,
            "From": resource.get("from") or "",
            "To": resource.get("to") or "",
            "ApiVersion": "2010-04-01",
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        if resource:
            resource.update(status=status, date_updated=_rfc2822(time.time()))
            if error_code is not None:
                resource.update(error_code=error_code, error_message=DEFAULT_ERROR_MESSAGES.get(error_code, "Error"))
        result = await self._webhook("status", callback_url, params, signature, callback_url)
        return result if isinstance(result, tuple) else (0, result)
