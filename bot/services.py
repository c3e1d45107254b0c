"""The collaborators every part of the bot works with, assembled once per process by `bot.app`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession

from bot.carriers.base import Carrier
from bot.clock import Clock
from bot.lines import LineDirectory
from bot.liveness import worker_identity
from bot.metrics import Metrics
from bot.scheduling import Scheduler
from bot.settings import Settings
from storage.db import Database
from storage.models import Message


class SendsNow(Protocol):
    """The sender running in this process, as code that queues a text someone waits for sees it
    (bot.messaging.sender.SendWorker): the text is claimed as it is queued and sent once that commits,
    without waiting for the sender's next batch and its transaction."""

    async def claim(
        self, session: AsyncSession, *, line_id: int, phone: str, purpose: str, media: list[dict]
    ) -> dict[str, Any] | None:
        """In the caller's transaction, before the text is queued: the values that queue it already claimed
        by this sender, when it may go now; None when it must wait its turn (it is queued as usual)."""

    def hand(self, message: Message) -> None:
        """Send a text queued claimed, once the transaction that queued it has committed."""


@dataclass
class Wakeups:
    """Events that tell background workers there is new work, so they need not poll hard."""

    outbox: asyncio.Event = field(default_factory=asyncio.Event)
    sender: asyncio.Event = field(default_factory=asyncio.Event)
    campaigns: asyncio.Event = field(default_factory=asyncio.Event)
    intake: asyncio.Event = field(default_factory=asyncio.Event)

    def poke_outbox(self) -> None:
        self.outbox.set()

    def poke_sender(self) -> None:
        self.sender.set()

    def poke_intake(self) -> None:
        """Inbound texts were stored: take them into their conversations."""
        self.intake.set()

    def poke_campaigns(self) -> None:
        """The sender recorded a batch: a campaign may have room to queue more."""
        self.campaigns.set()


@dataclass
class Services:
    settings: Settings
    db: Database
    carrier: Carrier
    slack: AsyncWebClient
    clock: Clock = field(default_factory=Clock)
    wakeups: Wakeups = field(default_factory=Wakeups)
    # The process's periodic scans for due rows (see bot.scheduling); started and stopped with the workers.
    scheduler: Scheduler = field(default_factory=Scheduler)
    # Identifies this process when claiming shared work (several replicas may share one database); a process
    # of the same host can tell from it that the holder of a claim is gone (bot.liveness).
    worker_id: str = field(default_factory=worker_identity)
    lines: LineDirectory = field(default_factory=lambda: LineDirectory([]))
    # origin -> listeners called as listener(session, message) whenever the status of an outbound
    # message of that origin changes (paging follows its pages). See `on_status`.
    status_listeners: dict[str, list] = field(default_factory=dict)
    # name -> async renderer(services, id) -> message text, used by outbox "update" rows that say
    # {"render": name, "id": id}: the text is made when the edit is performed, from the state then,
    # so concurrent changes can never leave an older picture as the last edit.
    renderers: dict = field(default_factory=dict)
    # Called as hook(session, line, message) for each new inbound text, in the transaction that stores it (paging ACKs).
    inbound_hooks: list = field(default_factory=list)
    # (claims, take) pairs asked before an inbound text goes to a conversation: `await claims(session, phone)`
    # true means the sender is not a customer (paging: a team member's page answers); the text is stored outside
    # any conversation and handed to `await take(session, line, message)` in the same transaction.
    inbound_routes: list = field(default_factory=list)
    # Every carrier a line uses, by the name settings give it (`[[lines]] carrier`, default SMS_PROVIDER);
    # `carrier` is SMS_PROVIDER's. Lines of different carriers are served at once.
    carriers: dict[str, Carrier] = field(default_factory=dict)
    # Counters and histograms of what this process does, and the database's figures (bot.metrics).
    metrics: Metrics = field(default_factory=Metrics)
    # The sender of this process while it runs (None in a process that runs no workers).
    send_now: SendsNow | None = None

    def carrier_for(self, line_id: int | None) -> Carrier:
        """The carrier of the line with this id (SMS_PROVIDER's for a line the settings no longer have)."""
        line = self.lines.by_id(line_id) if line_id is not None else None
        if line is None:
            return self.carrier
        return self.carriers.get(self.settings.carrier_of(line.config)) or self.carrier

    def webhook_carriers(self) -> dict[str, Carrier]:
        """path -> the carrier whose webhook it is (SMS_PROVIDER's first, when two share a path)."""
        paths: dict[str, Carrier] = {}
        for carrier in [self.carrier, *self.carriers.values()]:
            for path in carrier.webhook_paths:
                paths.setdefault(path, carrier)
        return paths


def on_status(services: Services, origin: str, listener) -> None:
    """Call `listener(session, message)` on every status change of outbound messages from `origin`."""
    services.status_listeners.setdefault(origin, []).append(listener)
