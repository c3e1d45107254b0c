"""Telnyx Messaging API v2 over aiohttp: send, look up what was sent (reconciliation), fetch inbound media.

Formats as Telnyx documents them:
- Send a message: `POST /v2/messages`, JSON `from`, `to`, `text`, `media_urls`, `webhook_url`, bearer API key;
  the answer's `data.id` is the message's id, `data.parts` its segments
  (https://developers.telnyx.com/api-reference/messages/send-a-message). A refusal answers
  `{"errors": [{"code": "40300", "title": ..., "detail": ...}]}`; 429 is rate limiting (code 10011, with
  Retry-After) (https://developers.telnyx.com/development/api-fundamentals/api-errors).
- Reconciliation: the Detail Record Search, `GET /v2/detail_records?filter[record_type]=messaging` filtered by
  `filter[direction]`, `filter[cld]` (to), `filter[cli]` (from) and `filter[created_at][gte]`, newest first with
  `sort=-created_at`, paged by `page[number]`/`page[size]` (at most 50) with `meta.total_pages`; each record has
  `uuid` (the message id), `cld`, `cli`, `created_at`, `sent_at` and, once the message is final, a `status` of its
  own: delivered, failed, gw_reject, gw_timeout, dlr_unconfirmed, dlr_timeout (received for inbound)
  (https://developers.telnyx.com/api-reference/detail-records/search-detail-records, and Telnyx's OpenAPI
  description, MessageDetailRecord); a record carries no text,
  so each one's message is read, `GET /v2/messages/{id}`, whose `data.text` it is
  (https://developers.telnyx.com/docs/messaging/messages/message-detail-records). There is no client
  reference or idempotency key on a send, so this search is what tells a text Telnyx took from one it never got.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
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
from bot.carriers.telnyx import errors
from bot.carriers.telnyx.prices import PRICES
from bot.carriers.telnyx.webhooks import WEBHOOK_PATH, TelnyxWebhooks

MAX_MEDIA_BYTES = 5 * 1024 * 1024
LIST_PAGE_SIZE = 50  # the search's largest page (page[size] has maximum 50)
MAX_LIST_PAGES = 20
CALLBACK_MESSAGE_PARAM = "m"  # the webhook URL's query parameter naming the bridge's message id
# A detail record's final status as the bridge's receipt status. "failed" is a failed delivery attempt (the
# carrier did not deliver it); "gw_reject" the gateway's refusal (it was never sent); the unconfirmed and timed
# out ones are taken and sent, never confirmed delivered.
RECORD_STATUSES = {
    "delivered": "delivered",
    "failed": "undelivered",
    "gw_reject": "failed",
    "gw_timeout": "sent",
    "dlr_unconfirmed": "sent",
    "dlr_timeout": "sent",
}


class TelnyxCarrier:
    """Telnyx Messaging at `api_url` (https://api.telnyx.com unless overridden)."""

    name = "telnyx"
    webhook_paths: tuple[str, ...] = (WEBHOOK_PATH,)
    prices = PRICES

    def __init__(
        self, api_key: str, public_key: str, api_url: str = "https://api.telnyx.com", *, timeout: float = 15.0
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._auth_header = {"Authorization": f"Bearer {api_key}"}
        self._messages_url = URL(f"{self.api_url}/v2/messages")
        self._records_url = URL(f"{self.api_url}/v2/detail_records")
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=5)
        self._session: aiohttp.ClientSession | None = None
        self.webhooks = TelnyxWebhooks(public_key)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=aiohttp.TCPConnector(limit=200))
        return self._session

    async def send(self, message: OutboundSMS) -> SendResult:
        body: dict[str, Any] = {"from": message.sender, "to": message.to, "text": message.body}
        if message.media_urls:
            body["media_urls"] = list(message.media_urls)
        if message.status_callback:
            body["webhook_url"] = message.status_callback
        try:
            async with self._http().post(self._messages_url, json=body, headers=self._auth_header) as resp:
                payload = await _json_or_empty(resp)
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
        except aiohttp.ClientConnectorError as exc:
            raise TransientCarrierError(f"cannot connect to Telnyx: {exc.os_error}") from None
        except (TimeoutError, aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            raise AmbiguousCarrierError(f"no answer from Telnyx ({type(exc).__name__})") from None
        except aiohttp.ClientError as exc:
            raise AmbiguousCarrierError(f"Telnyx request failed: {exc}") from None
        data = payload.get("data")
        if status in (200, 201, 202) and isinstance(data, dict) and isinstance(data.get("id"), str):
            parts = data.get("parts")
            return SendResult(carrier_sid=data["id"], status="sent", segments=parts if isinstance(parts, int) else None)
        code, text = _first_error(payload)
        text = text or f"HTTP {status}"
        if status == 429 or code in errors.RETRYABLE:
            raise TransientCarrierError(text, code=code, retry_after=_float_or_none(retry_after))
        if status >= 500:
            raise TransientCarrierError(f"Telnyx answered HTTP {status}", code=code)
        raise PermanentCarrierError(f"{text} — {errors.describe(code)}" if code else text, code=code)

    async def find_sent(self, *, to: str, sender: str, since: datetime) -> list[SentRecord]:
        """Every outbound message Telnyx recorded from `sender` to `to` since `since` (its detail records)."""
        records: list[SentRecord] = []
        for page in range(1, MAX_LIST_PAGES + 1):
            query = {
                "filter[record_type]": "messaging",
                "filter[direction]": "outbound",
                "filter[cld]": to,
                "filter[cli]": sender,
                "filter[created_at][gte]": _utc(since).isoformat(),
                "sort": "-created_at",
                "page[number]": str(page),
                "page[size]": str(LIST_PAGE_SIZE),
            }
            payload = await self._list_page(self._records_url.with_query(query))
            for item in payload.get("data") or []:
                if isinstance(item, dict) and isinstance(item.get("uuid"), str):
                    record = _sent_record(item)
                    record.body = await self._text_of(record.carrier_sid)
                    records.append(record)
            meta = payload.get("meta") if isinstance(payload.get("meta"), dict) else {}
            total = meta.get("total_pages") if isinstance(meta, dict) else None
            if not isinstance(total, int) or page >= total:
                break
        return records

    async def _text_of(self, message_id: str) -> str:
        """A sent message's text: detail records do not carry it, the message's own record does."""
        payload = await self._list_page(self._messages_url / message_id)
        data = payload.get("data")
        text = data.get("text") if isinstance(data, dict) else None
        return text if isinstance(text, str) else ""

    async def _list_page(self, url: URL) -> dict:
        try:
            async with self._http().get(url, headers=self._auth_header) as resp:
                if resp.status != 200:
                    raise TransientCarrierError(f"cannot read Telnyx's records: HTTP {resp.status}")
                return await _json_or_empty(resp)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise TransientCarrierError(f"cannot read Telnyx's records ({type(exc).__name__})") from None

    async def fetch_media(self, url: str) -> tuple[bytes, str]:
        """An inbound MMS's media, from the URL Telnyx gave; only Telnyx's hosts (and the configured API host),
        and the API key only to the API host."""
        parts = urlsplit(url)
        api_host = urlsplit(self.api_url).netloc
        telnyx_host = parts.hostname is not None and (
            parts.hostname == "telnyx.com" or parts.hostname.endswith(".telnyx.com")
        )
        if not (parts.netloc == api_host and parts.scheme in ("http", "https")) and not (
            telnyx_host and parts.scheme == "https"
        ):
            raise PermanentCarrierError("media URL is not on Telnyx's media host")
        headers = self._auth_header if parts.netloc == api_host else None
        async with self._http().get(url, headers=headers) as resp:
            if resp.status != 200:
                raise TransientCarrierError(f"media fetch failed: HTTP {resp.status}")
            if (resp.content_length or 0) > MAX_MEDIA_BYTES:
                raise PermanentCarrierError("media is larger than 5 MB")
            data = await resp.content.read(MAX_MEDIA_BYTES + 1)
            if len(data) > MAX_MEDIA_BYTES:
                raise PermanentCarrierError("media is larger than 5 MB")
            return data, resp.headers.get("Content-Type", "application/octet-stream")

    def read_webhook(self, request: WebhookRequest, now: float) -> Webhook:
        return self.webhooks.read(request, now)

    def status_callback(self, public_url: str, message_id: int) -> str:
        return f"{public_url.rstrip('/')}{WEBHOOK_PATH}?{CALLBACK_MESSAGE_PARAM}={message_id}"

    def describe(self, code: int | None) -> str:
        return errors.describe(code)

    def error_kind(self, code: int | None) -> str | None:
        return errors.kind(code)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _sent_record(item: Mapping[str, Any]) -> SentRecord:
    """A detail record: its final status, or (before it has one) sent once it has a send time, queued before."""
    sent_at = _iso_or_none(item.get("sent_at"))
    status = str(item.get("status") or "").lower()
    return SentRecord(
        carrier_sid=item["uuid"],
        to=str(item.get("cld") or ""),
        sender=str(item.get("cli") or ""),
        body="",
        created_at=_iso_or_none(item.get("created_at")),
        sent_at=sent_at,
        status=RECORD_STATUSES.get(status) or ("sent" if sent_at is not None else "queued"),
    )


def _utc(moment: datetime) -> datetime:
    """`moment` in UTC (the database gives naive UTC times)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _first_error(payload: Mapping[str, Any]) -> tuple[int | None, str]:
    found = payload.get("errors")
    if not isinstance(found, list) or not found or not isinstance(found[0], dict):
        return None, ""
    first = found[0]
    try:
        code = int(str(first.get("code")))
    except (TypeError, ValueError):
        code = None
    return code, str(first.get("detail") or first.get("title") or "")


def _iso_or_none(value: Any) -> datetime | None:
    try:
        return _utc(datetime.fromisoformat(value)) if isinstance(value, str) and value else None
    except ValueError:
        return None


async def _json_or_empty(resp: aiohttp.ClientResponse) -> dict:
    try:
        data = json.loads(await resp.read())
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
