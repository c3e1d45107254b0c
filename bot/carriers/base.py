"""The carrier interface every SMS provider implements, and the outcomes a send can have."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class OutboundSMS:
    """One message to hand to the carrier."""

    to: str
    sender: str  # E.164 number, or a Messaging Service SID ("MG...")
    body: str
    media_urls: tuple[str, ...] = ()
    status_callback: str | None = None


@dataclass(frozen=True)
class SendResult:
    """The carrier accepted the message."""

    carrier_sid: str
    status: str = "sent"
    segments: int | None = None


class CarrierError(Exception):
    """A send the carrier refused or that could not be completed."""

    def __init__(self, message: str, *, code: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


class TransientCarrierError(CarrierError):
    """Worth retrying: the carrier surely did not send (5xx before acceptance, 429, connection refused)."""


class AmbiguousCarrierError(CarrierError):
    """We cannot tell whether the carrier accepted the message (timeout after the request left)."""


class PermanentCarrierError(CarrierError):
    """The carrier refused this message for good (invalid number, opted out, ...)."""


@dataclass(frozen=True)
class InboundSMS:
    """A message a customer sent to one of our lines, as the carrier reported it."""

    carrier_sid: str
    from_: str
    to: str
    body: str
    media: tuple[tuple[str, str], ...] = ()  # (url, content type)
    messaging_service: str | None = None


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery receipt for a message we sent."""

    carrier_sid: str
    status: str  # queued | sent | delivered | undelivered | failed | ...
    error_code: int | None = None


@dataclass
class SentRecord:
    """A message the carrier has taken to send, sent or still queued (used to reconcile a lost outcome)."""

    carrier_sid: str
    to: str
    sender: str
    body: str
    created_at: datetime | None = None
    sent_at: datetime | None = None  # None while the carrier still holds it
    status: str = "queued"  # the carrier's status for it: queued, sent, delivered, failed, ...
    error_code: int | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookEvent:
    """One thing a carrier's webhook reported: a customer's text, or a delivery receipt for one of ours.

    `message_id`: the bridge's id of the message a receipt is for, when the callback URL carries it (it settles a
    send whose answer was lost). `event_id`: the carrier's id of the event, for logs."""

    inbound: InboundSMS | None = None
    status: StatusUpdate | None = None
    message_id: int | None = None
    event_id: str | None = None


@dataclass(frozen=True)
class WebhookReply:
    """What to answer the carrier once its events are stored."""

    status: int = 200
    text: str | None = None
    content_type: str = "text/plain"


class WebhookRefused(Exception):
    """A webhook that does not prove the carrier sent it (401: no signature, 403: a wrong or stale one) or that is
    not in the carrier's format (415). Nothing of it is read."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Webhook:
    """A verified, parsed webhook request."""

    events: tuple[WebhookEvent, ...]
    reply: WebhookReply = field(default_factory=WebhookReply)


@dataclass(frozen=True)
class WebhookRequest:
    """What a carrier needs of an HTTP request to its webhook: `url` is the public URL it was sent to."""

    path: str
    url: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    content_type: str


@dataclass(frozen=True)
class PriceList:
    """A carrier's list price of one outbound SMS segment by destination country (ISO 3166-1 code -> US
    dollars), and the date it was read. A country it does not list is not estimated."""

    per_segment_usd: Mapping[str, float]
    as_of: str


class Carrier(Protocol):
    """What the rest of the bot needs from an SMS provider. One package per carrier under bot/carriers/."""

    name: str
    # The paths of this carrier's webhooks (POST), each served by `read_webhook`.
    webhook_paths: tuple[str, ...]
    # The list prices of one outbound SMS segment by destination country, for the preview's estimate.
    prices: PriceList

    async def send(self, message: OutboundSMS) -> SendResult:
        """Hand one message to the carrier; raise a CarrierError subclass on failure."""

    async def find_sent(self, *, to: str, sender: str, since: datetime) -> list[SentRecord]:
        """Every message the carrier took from `sender` to `to` since `since`, sent or still queued (newest
        first)."""

    async def fetch_media(self, url: str) -> tuple[bytes, str]:
        """Download an inbound media URL with the carrier's credentials: (bytes, content type)."""

    def read_webhook(self, request: WebhookRequest, now: float) -> Webhook:
        """Verify a webhook request before reading anything of it (WebhookRefused otherwise), then parse it
        (ValueError naming what is wrong). `now`: the Unix time, for the age of a signed timestamp."""

    def status_callback(self, public_url: str, message_id: int) -> str:
        """The URL the carrier reports the delivery of message `message_id` to (`public_url` is ours)."""

    def describe(self, code: int | None) -> str:
        """A human sentence for one of the carrier's error codes, for Slack threads and reports."""

    def error_kind(self, code: int | None) -> str | None:
        """What an error code says of the number: `opted_out`, `invalid`, `landline`, or None."""

    async def close(self) -> None:
        """Release connections."""
