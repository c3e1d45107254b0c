"""The simulator carrier for local mode: accepts every send, keeps it, and reports delivery back
through the same signed status webhook Twilio would call (it speaks Twilio's wire format, with a token of its own)."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
from twilio.request_validator import RequestValidator

from bot.carriers import twilio as twilio_format
from bot.carriers.base import OutboundSMS, PermanentCarrierError, SendResult, SentRecord, Webhook, WebhookRequest
from bot.carriers.twilio import errors as twilio_errors
from bot.carriers.twilio import webhooks as twilio_webhooks

# Local mode signs its own webhooks with this token; it guards nothing secret (the simulator sends no SMS).
SIMULATOR_AUTH_TOKEN = "sms-bridge-simulator"
SIMULATOR_ACCOUNT_SID = "AC" + "0" * 32


@dataclass
class SimulatedSend:
    sid: str
    to: str
    sender: str
    body: str
    media_urls: tuple[str, ...]
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


class SimulatorCarrier:
    """A carrier that never leaves the machine. `sent` is what a customer's phone would have received."""

    name = "simulator"
    webhook_paths: tuple[str, ...] = twilio_format.TwilioCarrier.webhook_paths
    prices = twilio_format.TwilioCarrier.prices

    def __init__(self, *, delivery_delay: float = 0.2) -> None:
        self.sent: list[SimulatedSend] = []
        self.listeners: list = []  # callables(SimulatedSend), e.g. the playground's phone
        self._delay = delivery_delay
        self._tasks: set[asyncio.Task] = set()
        self._session: aiohttp.ClientSession | None = None
        self.validator = RequestValidator(SIMULATOR_AUTH_TOKEN)

    async def send(self, message: OutboundSMS) -> SendResult:
        if len(message.body) > 1600:
            raise PermanentCarrierError("The message body exceeds 1600 characters", code=21617)
        record = SimulatedSend(
            sid="SM" + secrets.token_hex(16),
            to=message.to,
            sender=message.sender,
            body=message.body,
            media_urls=message.media_urls,
        )
        self.sent.append(record)
        for listener in self.listeners:
            listener(record)
        if message.status_callback:
            task = asyncio.create_task(self._report(message.status_callback, record))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return SendResult(carrier_sid=record.sid, status="sent")

    async def find_sent(self, *, to: str, sender: str, since: datetime) -> list[SentRecord]:
        return [
            SentRecord(
                carrier_sid=s.sid, to=s.to, sender=s.sender, body=s.body, created_at=s.at, sent_at=s.at, status="sent"
            )
            for s in reversed(self.sent)
            if s.to == to and s.sender == sender and s.at >= since
        ]

    async def fetch_media(self, url: str) -> tuple[bytes, str]:
        async with self._http().get(url) as resp:
            return await resp.read(), resp.headers.get("Content-Type", "application/octet-stream")

    def signature_ok(self, url: str, params, signature: str | None) -> bool:
        return bool(signature) and self.validator.validate(url, dict(params), signature)

    def read_webhook(self, request: WebhookRequest, now: float) -> Webhook:
        return twilio_webhooks.read_webhook(self.signature_ok, request)

    def status_callback(self, public_url: str, message_id: int) -> str:
        return twilio_format.status_callback_url(public_url.rstrip("/") + twilio_format.STATUS_PATH, message_id)

    def describe(self, code: int | None) -> str:
        return twilio_errors.describe(code)

    def error_kind(self, code: int | None) -> str | None:
        return twilio_errors.kind(code)

    def sign(self, url: str, params: dict[str, str]) -> str:
        return self.validator.compute_signature(url, params)

    async def _report(self, callback: str, record: SimulatedSend) -> None:
        for status in ("sent", "delivered"):
            await asyncio.sleep(self._delay)
            params = {
                "MessageSid": record.sid,
                "SmsSid": record.sid,
                "MessageStatus": status,
                "SmsStatus": status,
                "AccountSid": SIMULATOR_ACCOUNT_SID,
                "From": record.sender,
                "To": record.to,
                "ApiVersion": "2010-04-01",
            }
            headers = {"X-Twilio-Signature": self.sign(callback, params)}
            try:
                async with self._http().post(callback, data=params, headers=headers) as resp:
                    await resp.read()
            except aiohttp.ClientError:
                return

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self._session

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._session is not None:
            await self._session.close()
