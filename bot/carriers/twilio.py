"""Twilio: send over the REST API with aiohttp, validate and parse its webhooks."""

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
    InboundSMS,
    OutboundSMS,
    PermanentCarrierError,
    SendResult,
    SentRecord,
    StatusUpdate,
    TransientCarrierError,
)
from bot.carriers.twilio_errors import describe
from bot.validation import parse_digits

MAX_MEDIA_BYTES = 5 * 1024 * 1024
MAX_NUM_MEDIA = 10  # Twilio's limit of attachments per message
# The form is encoded once, by us: aiohttp's FormData builds a multipart writer (and a random boundary) per call.
_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


class TwilioCarrier:
    """Twilio Programmable Messaging at `api_url` (https://api.twilio.com unless overridden)."""

    name = "twilio"

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
        try:
            body = f"{urlencode(form)}&{_sender_fields(message.sender, message.status_callback)}".encode()
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
        params = {"To": to, "DateSent>": since.strftime("%Y-%m-%d"), "PageSize": "50"}
        if not sender.startswith("MG"):
            params["From"] = sender
        async with self._http().get(self._messages_url, params=params) as resp:
            if resp.status != 200:
                raise TransientCarrierError(f"cannot list Twilio messages: HTTP {resp.status}")
            payload = await resp.json()
        records = []
        for item in payload.get("messages", []):
            created = item.get("date_created")
            records.append(
                SentRecord(
                    carrier_sid=item["sid"],
                    to=item.get("to", ""),
                    sender=item.get("from", ""),
                    body=item.get("body", ""),
                    created_at=parsedate_to_datetime(created) if created else None,
                )
            )
        return records

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


def parse_inbound(form: Mapping[str, str]) -> InboundSMS:
    """Read Twilio's inbound message webhook fields; raise ValueError naming a missing field."""
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    for name, value in (("MessageSid", sid), ("From", form.get("From")), ("To", form.get("To"))):
        if not value:
            raise ValueError(f"missing field {name}")
    count = parse_digits(form.get("NumMedia") or "0", "NumMedia", maximum=MAX_NUM_MEDIA)
    media = tuple(
        (form[f"MediaUrl{i}"], form.get(f"MediaContentType{i}", "application/octet-stream"))
        for i in range(count)
        if form.get(f"MediaUrl{i}")
    )
    return InboundSMS(
        carrier_sid=sid,
        from_=form["From"],
        to=form["To"],
        body=form.get("Body", ""),
        media=media,
        messaging_service=form.get("MessagingServiceSid") or None,
    )


def parse_status(form: Mapping[str, str]) -> StatusUpdate:
    """Read Twilio's status callback fields; raise ValueError naming a missing field."""
    sid = form.get("MessageSid") or form.get("SmsSid")
    status = form.get("MessageStatus") or form.get("SmsStatus")
    if not sid:
        raise ValueError("missing field MessageSid")
    if not status:
        raise ValueError("missing field MessageStatus")
    return StatusUpdate(carrier_sid=sid, status=status.lower(), error_code=_int_or_none(form.get("ErrorCode")))


@lru_cache(maxsize=256)
def _sender_fields(sender: str, status_callback: str | None) -> str:
    """The encoded form fields every text of one line shares (encoded once: a campaign sends thousands)."""
    fields = [("MessagingServiceSid" if sender.startswith("MG") else "From", sender)]
    if status_callback:
        fields.append(("StatusCallback", status_callback))
    return urlencode(fields)


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
