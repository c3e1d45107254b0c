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


class Carrier(Protocol):
    """What the rest of the bot needs from an SMS provider."""

    name: str

    async def send(self, message: OutboundSMS) -> SendResult:
        """Hand one message to the carrier; raise a CarrierError subclass on failure."""

    async def find_sent(self, *, to: str, sender: str, since: datetime) -> list[SentRecord]:
        """Every message the carrier took from `sender` to `to` since `since`, sent or still queued (newest
        first)."""

    async def fetch_media(self, url: str) -> tuple[bytes, str]:
        """Download an inbound media URL with the carrier's credentials: (bytes, content type)."""

    def signature_ok(self, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        """True when a webhook's signature proves the carrier sent it."""

    async def close(self) -> None:
        """Release connections."""
