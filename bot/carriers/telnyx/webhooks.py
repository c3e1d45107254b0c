"""Telnyx's messaging webhooks, `POST /sms/telnyx/webhook`: verified, then parsed.

As Telnyx documents them:
- Signing (https://developers.telnyx.com/docs/messaging/messages/receiving-webhooks, "Verify webhook
  signatures"): header `telnyx-signature-ed25519` is the base64 Ed25519 signature of
  `f"{telnyx-timestamp}|{raw body}"` with the account's public key (Mission Control, Keys & Credentials, given
  base64 as TELNYX_PUBLIC_KEY); `telnyx-timestamp` is Unix seconds. Older than 5 minutes is refused (replays).
  Ed25519 is checked with `cryptography`, never by hand.
- Events (https://developers.telnyx.com/api-reference/callbacks/inbound-message and the delivery status payload
  of the receiving-webhooks page): `{"data": {"event_type", "id", "occurred_at", "payload": {...}}}`.
  `message.received`: payload `id`, `from.phone_number`, `to[].phone_number`, `text`, `media[]` of `url` and
  `content_type`. `message.sent` / `message.finalized`: payload `id`, `to[]` of `phone_number` and `status`
  (queued, sending, sent, delivered, sending_failed, delivery_failed, delivery_unconfirmed), `errors[]` of `code`,
  `title`, `detail`. Telnyx retries a webhook it got no 2xx for, with the same `data.id`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bot import limits
from bot.carriers.base import (
    InboundSMS,
    StatusUpdate,
    Webhook,
    WebhookEvent,
    WebhookRefused,
    WebhookRequest,
)
from bot.validation import check_text, parse_digits

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/sms/telnyx/webhook"
SIGNATURE_HEADER, TIMESTAMP_HEADER = "telnyx-signature-ed25519", "telnyx-timestamp"
MAX_AGE_SECONDS = 300
MAX_MEDIA = 10
# Telnyx's per-recipient statuses as the bridge's receipts (those it does not apply, queued and sending, pass as is).
_STATUSES = {
    "sent": "sent",
    "delivered": "delivered",
    "sending_failed": "failed",
    "delivery_failed": "undelivered",
    "delivery_unconfirmed": "sent",  # the carrier never said: it stays sent
}
RECEIPT_EVENTS = ("message.sent", "message.finalized")


def receipt_status(status: str) -> str:
    """A Telnyx recipient status as the bridge's receipt status."""
    return _STATUSES.get(status.lower(), status.lower())


class TelnyxWebhooks:
    """Verifies and reads Telnyx's webhooks with the account's public key."""

    def __init__(self, public_key: str) -> None:
        self._key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key))

    def verify(self, request: WebhookRequest, now: float) -> None:
        """WebhookRefused unless the signature is Telnyx's, over this body, made less than 5 minutes ago."""
        signature = request.headers.get(SIGNATURE_HEADER)
        timestamp = request.headers.get(TIMESTAMP_HEADER)
        if not signature or not timestamp:
            raise WebhookRefused(401, f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}")
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
            raise WebhookRefused(403, f"{TIMESTAMP_HEADER} is not Unix seconds")
        if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
            raise WebhookRefused(403, f"{TIMESTAMP_HEADER} is more than 5 minutes away from now (a replay?)")
        try:
            raw = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raise WebhookRefused(403, f"{SIGNATURE_HEADER} is not base64") from None
        try:
            self._key.verify(raw, timestamp.encode() + b"|" + request.body)
        except InvalidSignature:
            log.warning("telnyx webhook: bad signature")
            raise WebhookRefused(403, f"{SIGNATURE_HEADER} does not match") from None

    def read(self, request: WebhookRequest, now: float) -> Webhook:
        self.verify(request, now)
        try:
            document = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise ValueError("telnyx webhook: the body is not JSON") from None
        data = _object(document, "data", "body")
        event_type = _text(data, "event_type", "data")
        event_id = _text(data, "id", "data")
        check_text(event_id, "data.id", limit=limits.MESSAGE_SID)
        payload = _object(data, "payload", "data")
        if event_type == "message.received":
            return Webhook((WebhookEvent(inbound=_inbound(payload), event_id=event_id),))
        if event_type in RECEIPT_EVENTS:
            message_id = None
            if request.query.get("m") is not None:
                message_id = parse_digits(request.query["m"], "m", maximum=limits.MESSAGE_ID_MAX)
            updates = _receipts(payload)
            return Webhook(tuple(WebhookEvent(status=u, message_id=message_id, event_id=event_id) for u in updates))
        log.info("telnyx webhook: %s event %s ignored", event_type, event_id)
        return Webhook(())


def _inbound(payload: dict) -> InboundSMS:
    message_id = _text(payload, "id", "data.payload")
    check_text(message_id, "data.payload.id", limit=limits.MESSAGE_SID)
    sender = _text(_object(payload, "from", "data.payload"), "phone_number", "data.payload.from")
    check_text(sender.strip(), "data.payload.from.phone_number", limit=limits.PHONE)
    recipients = _list(payload, "to", "data.payload")
    if not recipients or not isinstance(recipients[0], dict):
        raise ValueError("telnyx webhook: data.payload.to must list the number texted")
    to = _text(recipients[0], "phone_number", "data.payload.to[0]")
    check_text(to, "data.payload.to[0].phone_number", limit=limits.LINE_KEY)
    text = payload.get("text") or ""
    if not isinstance(text, str):
        raise ValueError("telnyx webhook: data.payload.text must be a string")
    media = []
    for index, item in enumerate(_list(payload, "media", "data.payload", required=False)[:MAX_MEDIA]):
        where = f"data.payload.media[{index}]"
        if not isinstance(item, dict):
            raise ValueError(f"telnyx webhook: {where} must be an object")
        kind = item.get("content_type") or "application/octet-stream"
        media.append((_text(item, "url", where), str(kind)))
    return InboundSMS(carrier_sid=message_id, from_=sender, to=to, body=text.replace("\x00", ""), media=tuple(media))


def _receipts(payload: dict) -> list[StatusUpdate]:
    message_id = _text(payload, "id", "data.payload")
    check_text(message_id, "data.payload.id", limit=limits.STATUS_SID)
    code = None
    found = _list(payload, "errors", "data.payload", required=False)
    if found and isinstance(found[0], dict) and found[0].get("code") not in (None, ""):
        code = parse_digits(str(found[0]["code"]), "data.payload.errors[0].code", maximum=limits.ERROR_CODE_MAX)
    updates = []
    for index, recipient in enumerate(_list(payload, "to", "data.payload")):
        where = f"data.payload.to[{index}]"
        if not isinstance(recipient, dict):
            raise ValueError(f"telnyx webhook: {where} must be an object")
        status = receipt_status(_text(recipient, "status", where))
        check_text(status, f"{where}.status", limit=limits.STATUS)
        updates.append(StatusUpdate(carrier_sid=message_id, status=status, error_code=code))
    if not updates:
        raise ValueError("telnyx webhook: data.payload.to must list the recipient")
    return updates


def _object(parent: Any, key: str, where: str) -> dict:
    value = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(value, dict):
        raise ValueError(
            f"telnyx webhook: {where}.{key} must be an object"
            if where != "body"
            else f"telnyx webhook: the body must be an object with {key}"
        )
    return value


def _text(parent: dict, key: str, where: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"telnyx webhook: {where}.{key} is missing or not a string")
    return value


def _list(parent: dict, key: str, where: str, *, required: bool = True) -> list:
    value = parent.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise ValueError(f"telnyx webhook: {where}.{key} must be a list")
    return value
