"""Twilio: send over the REST API with aiohttp, validate and parse its webhooks (see webhooks.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import urlencode, urlsplit

import aiohttp
from twilio.request_validator import RequestValidator
from yarl import URL

from bot.carriers.base import (
    AmbiguousCarrierError,
    OutboundSMS,
    PermanentCarrierError,
    SendResult,
    SentRecord,
    TransientCarrierError,
    Webhook,
    WebhookRequest,
)
from bot.carriers.twilio import errors
from bot.carriers.twilio.errors import describe
from bot.carriers.twilio.prices import PRICES
from bot.carriers.twilio.webhooks import INBOUND_PATH, STATUS_PATH, read_webhook, status_callback_url

MAX_MEDIA_BYTES = 5 * 1024 * 1024
MAX_NUM_MEDIA = 10  # Twilio's limit of attachments per message
# Statuses of a Message resource Twilio has taken to send: from the moment it is created (`accepted` with a
# Messaging Service, `queued` with a number, `scheduled`) it goes out, or fails, without us. Not `canceled`.
TAKEN_STATUSES = frozenset(
    {"accepted", "scheduled", "queued", "sending", "sent", "delivered", "undelivered", "failed", "read"}
)
LIST_PAGE_SIZE = 200
# The form is encoded once, by us: aiohttp's FormData builds a multipart writer (and a random boundary) per call.
_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


class TwilioCarrier:
    """Twilio Programmable Messaging at `api_url` (https://api.twilio.com unless overridden)."""

    name = "twilio"
    webhook_paths: tuple[str, ...] = (INBOUND_PATH, STATUS_PATH)
    prices = PRICES

    def __init__(
        self, account_sid: str, auth_token: str, api_url: str = "https://api.twilio.com", *, timeout: float = 15.0
    ) -> None:
        self.account_sid = account_sid
        self._auth_header = {"Authorization": aiohttp.encode_basic_auth(account_sid, auth_token)}
        self.api_url = api_url.rstrip("/")
        # Parsed once: aiohttp would parse a string URL again for every text.
        self._messages_url = URL(f"{self.api_url}/2010-04-01/Accounts/{account_sid}/Messages.json")
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=5)
        self._session: aiohttp.ClientSession | None = None
        self.validator = RequestValidator(auth_token)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, headers=self._auth_header, connector=aiohttp.TCPConnector(limit=200)
            )
        return self._session

    async def send(self, message: OutboundSMS) -> SendResult:
        form = [("To", message.to), ("Body", message.body)]
        form.extend(("MediaUrl", url) for url in message.media_urls)
        if message.status_callback:
            form.append(("StatusCallback", message.status_callback))
        try:
            body = f"{urlencode(form)}&{_sender_fields(message.sender)}".encode()
            async with self._http().post(self._messages_url, data=body, headers=_FORM_HEADERS) as resp:
                payload = await _json_or_empty(resp)
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
        except aiohttp.ClientConnectorError as exc:
            # The connection never opened: nothing reached Twilio.
            raise TransientCarrierError(f"cannot connect to Twilio: {exc.os_error}") from None
        except (TimeoutError, aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            raise AmbiguousCarrierError(f"no answer from Twilio ({type(exc).__name__})") from None
        except aiohttp.ClientError as exc:
            raise AmbiguousCarrierError(f"Twilio request failed: {exc}") from None
        if status in (200, 201):
            return SendResult(
                carrier_sid=payload["sid"],
                status="sent",
                segments=_int_or_none(payload.get("num_segments")),
            )
        code = _int_or_none(payload.get("code"))
        text = payload.get("message") or f"HTTP {status}"
        if status == 429 or code == 20429:
            raise TransientCarrierError(text, code=code, retry_after=_float_or_none(retry_after))
        if status >= 500:
            raise TransientCarrierError(f"Twilio answered HTTP {status}", code=code)
        raise PermanentCarrierError(f"{text} — {describe(code)}" if code else text, code=code)

    async def find_sent(self, *, to: str, sender: str, since: datetime) -> list[SentRecord]:
        """Every message Twilio took from `sender` to `to` since `since`, sent or still in its queue.

        No DateSent filter: it matches only messages with a date_sent, and a message Twilio still holds `queued`
        has none. The list is newest first by date_sent (date_created while unsent), so pages are followed until
        a message older than `since`: every message after it was created earlier still."""
        params = {"To": to, "PageSize": str(LIST_PAGE_SIZE)}
        if not sender.startswith("MG"):
            params["From"] = sender
        url: URL | None = self._messages_url.with_query(params)
        records: list[SentRecord] = []
        while url is not None:
            payload = await self._list_page(url)
            for item in payload.get("messages") or []:
                record = _sent_record(item)
                if (record.sent_at or record.created_at or since) < since:
                    return records
                if record.status in TAKEN_STATUSES:
                    records.append(record)
            url = self._next_page(payload.get("next_page_uri"))
        return records

    async def _list_page(self, url: URL) -> dict:
        try:
            async with self._http().get(url) as resp:
                if resp.status != 200:
                    raise TransientCarrierError(f"cannot list Twilio messages: HTTP {resp.status}")
                payload = await _json_or_empty(resp)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise TransientCarrierError(f"cannot list Twilio messages ({type(exc).__name__})") from None
        return payload

    def _next_page(self, uri: str | None) -> URL | None:
        """The next page's URL on our API host: Twilio gives a path relative to it (anything else is ignored)."""
        if not uri:
            return None
        parts = urlsplit(uri)
        return URL(f"{self.api_url}{parts.path}?{parts.query}", encoded=True)

    async def fetch_media(self, url: str) -> tuple[bytes, str]:
        if not self.is_media_url(url):
            raise PermanentCarrierError("media URL is not on the carrier's media host")
        async with self._http().get(url) as resp:
            if resp.status != 200:
                raise TransientCarrierError(f"media fetch failed: HTTP {resp.status}")
            if (resp.content_length or 0) > MAX_MEDIA_BYTES:
                raise PermanentCarrierError("media is larger than 5 MB")
            data = await resp.content.read(MAX_MEDIA_BYTES + 1)
            if len(data) > MAX_MEDIA_BYTES:
                raise PermanentCarrierError("media is larger than 5 MB")
            return data, resp.headers.get("Content-Type", "application/octet-stream")

    def is_media_url(self, url: str) -> bool:
        """Only URLs on Twilio's API host (or the configured one) are fetched with our credentials."""
        allowed = {urlsplit(self.api_url).netloc, "api.twilio.com"}
        parts = urlsplit(url)
        return (
            parts.scheme in ("https", "http")
            and parts.netloc in allowed
            and (f"/Accounts/{self.account_sid}/" in parts.path)
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    # -- webhooks ---------------------------------------------------------------------------------

    def signature_ok(self, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        """Validate `X-Twilio-Signature` exactly as Twilio's own helper library does."""
        return bool(signature) and self.validator.validate(url, dict(params), signature)

    def read_webhook(self, request: WebhookRequest, now: float) -> Webhook:
        return read_webhook(self.signature_ok, request)

    def status_callback(self, public_url: str, message_id: int) -> str:
        return status_callback_url(public_url.rstrip("/") + STATUS_PATH, message_id)

    def describe(self, code: int | None) -> str:
        return errors.describe(code)

    def error_kind(self, code: int | None) -> str | None:
        return errors.kind(code)


@lru_cache(maxsize=256)
def _sender_fields(sender: str) -> str:
    """The encoded sender field every text of one line shares (encoded once: a campaign sends thousands)."""
    return urlencode([("MessagingServiceSid" if sender.startswith("MG") else "From", sender)])


def _sent_record(item: Mapping) -> SentRecord:
    """A Message resource of Twilio's list, as the carrier interface reports it."""
    return SentRecord(
        carrier_sid=item["sid"],
        to=item.get("to") or "",
        sender=item.get("from") or "",
        body=item.get("body") or "",
        created_at=_rfc2822_or_none(item.get("date_created")),
        sent_at=_rfc2822_or_none(item.get("date_sent")),
        status=item.get("status") or "",
        error_code=_int_or_none(item.get("error_code")),
    )


def _rfc2822_or_none(value: str | None) -> datetime | None:
    try:
        return parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None


async def _json_or_empty(resp: aiohttp.ClientResponse) -> dict:
    try:
        data = json.loads(await resp.read())
    except ValueError:  # also UnicodeDecodeError: an error page that is not JSON
        return {}
    return data if isinstance(data, dict) else {}


def _int_or_none(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _float_or_none(value) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
