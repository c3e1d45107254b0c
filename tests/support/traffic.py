"""Traffic for tests against a running server: customer texts and agent replies delivered the way Twilio and
Slack deliver them (again, until acknowledged), campaigns run through `/sms`, and what reached the emulators,
counted."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from sqlalchemy import func, select

from bot.slack.format import pretty_phone
from storage.db import Database
from storage.models import Message, SlackOutbox
from storage.models.campaigns import Campaign
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.support.bridge import A2P_CHANNEL, ADMIN, AGENT, APPROVER, DEFAULT_CONFIG, thread_texts

FIRST_RETRY, LAST_RETRY = 0.2, 1.0  # pause before redelivering an unacknowledged webhook or event, doubling


def config_with_lines(count: int) -> tuple[str, list[tuple[str, str]]]:
    """DEFAULT_CONFIG plus `count` conversation lines, each with a channel of its own (Slack paces posts per
    channel, so traffic spread over several lines drains in a few seconds). Returns the config and the extra
    (line number, channel) pairs."""
    lines = [(f"+1415555{300 + i:04d}", f"C0LINE{i:02d}") for i in range(count)]
    extra = "".join(
        f'\n[[lines]]\nnumber = "{number}"\nchannel = "{channel}"\nkind = "p2p"\nmps = 50\n'
        f'brand = "Acme {i}"\nhelp_text = "Acme: help@acme.example. Reply STOP to opt out."\n'
        for i, (number, channel) in enumerate(lines)
    )
    return DEFAULT_CONFIG + extra, lines


def customers(lines: list[tuple[str, str]], per_line: int, prefix: str) -> list[tuple[str, str, str]]:
    """(phone, line, channel) for `per_line` customers of each line; numbers are `prefix` + 4 digits."""
    return [
        (f"{prefix}{index * per_line + k:04d}", line, channel)
        for index, (line, channel) in enumerate(lines)
        for k in range(per_line)
    ]


# -- deliveries ---------------------------------------------------------------------------------------------


@dataclass
class Text:
    """A customer's text to one of our lines; `sid` stays the same on every delivery, as Twilio's MessageSid does."""

    phone: str
    line: str
    channel: str
    body: str
    sid: str = field(default_factory=lambda: "SM" + uuid.uuid4().hex)
    acknowledged: bool = False
    refusals: Counter = field(default_factory=Counter)  # HTTP status (0: no answer) -> times


@dataclass
class Reply:
    """An agent's reply in a conversation thread; `message` is the emulator's copy (its event_id is kept)."""

    phone: str
    message: dict
    acknowledged: bool = False
    refusals: Counter = field(default_factory=Counter)

    @property
    def body(self) -> str:
        return self.message["text"]


async def deliver_text(twilio: TwilioEmulator, url: str, text: Text, *, patience: float = 60.0) -> Text:
    """Deliver the inbound webhook until the server answers 200 (or `patience` runs out), as a carrier retries a
    webhook that was not acknowledged."""

    async def attempt(_earlier: int) -> int:
        status, _, _ = await twilio.send_inbound(
            url, from_=text.phone, to=text.line, body=text.body, message_sid=text.sid
        )
        return status

    return await _until_acknowledged(text, attempt, patience)


async def deliver_reply(
    slack: SlackEmulator, url: str, *, phone: str, channel: str, thread_ts: str, body: str, patience: float = 60.0
) -> Reply:
    """An agent answers in the thread; the event is delivered (then retried with the same event_id) until the
    server answers 200 or `patience` runs out."""
    reply = Reply(phone, slack.user_posts(channel=channel, user=AGENT, text=body, thread_ts=thread_ts))

    async def attempt(earlier: int) -> int:
        try:
            status, _ = await slack.deliver_message_event(
                url + "/slack/events", reply.message, retry_num=earlier or None
            )
        except (TimeoutError, aiohttp.ClientError):
            status = 0
        return status

    return await _until_acknowledged(reply, attempt, patience)


async def _until_acknowledged(item, attempt, patience: float):
    """Call `attempt(deliveries so far)` until it answers 200 or `patience` runs out, backing off between
    tries; every other answer is counted in `item.refusals`."""
    deadline, pause, earlier = time.monotonic() + patience, FIRST_RETRY, 0
    while True:
        status = await attempt(earlier)
        if status == 200:
            item.acknowledged = True
            return item
        item.refusals[status] += 1
        if time.monotonic() > deadline:
            return item
        earlier += 1
        await asyncio.sleep(pause)
        pause = min(pause * 2, LAST_RETRY)


async def open_threads(
    slack: SlackEmulator, twilio: TwilioEmulator, url: str, people: list[tuple[str, str, str]]
) -> tuple[list[Text], dict[str, str]]:
    """Every customer texts once; returns those texts and, once all are in Slack, each customer's thread ts."""
    texts = await asyncio.gather(
        *(deliver_text(twilio, url, Text(phone, line, channel, f"{phone} opens")) for phone, line, channel in people)
    )
    await slack.wait_for(
        lambda: all(thread_of(slack, channel, phone) for phone, _, channel in people),
        timeout=30,
        what="a thread for every customer",
    )
    return list(texts), {phone: thread_of(slack, channel, phone) for phone, _, channel in people}


def refusals(items) -> dict[int, int]:
    """Non-200 answers (0: no answer at all) over every delivery of `items`, by status."""
    total: Counter = Counter()
    for item in items:
        total.update(item.refusals)
    return dict(total)


# -- what reached the emulators --------------------------------------------------------------------------------


@dataclass
class Tally:
    """Acknowledged inputs against what the emulator received."""

    acknowledged: int
    lost: int
    duplicates: int
    misplaced: int = 0

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.duplicates == 0 and self.misplaced == 0


def thread_of(slack: SlackEmulator, channel: str, phone: str) -> str | None:
    """ts of the (first) conversation thread for `phone` in `channel`, once its root card is in Slack."""
    return next((root["ts"] for root in slack.roots(channel) if pretty_phone(phone) in root["text"]), None)


def inbound_tally(slack: SlackEmulator, texts: list[Text]) -> Tally:
    """Each acknowledged text must be in Slack once, in the one thread of its number in its line's channel."""
    places: dict[str, list[tuple[str, str]]] = {}  # body -> (channel, root text) of every place it shows
    for channel in {t.channel for t in texts}:
        for root in slack.roots(channel):
            for line in thread_texts(slack, channel, root["ts"]):
                places.setdefault(line, []).append((channel, root["text"]))
    acknowledged = [t for t in texts if t.acknowledged]
    lost = sum(1 for t in acknowledged if t.body not in places)
    duplicates = sum(len(places[t.body]) - 1 for t in acknowledged if t.body in places)
    misplaced = sum(
        1
        for t in acknowledged
        for channel, root in places.get(t.body, ())
        if channel != t.channel or pretty_phone(t.phone) not in root
    )
    threads = {(t.channel, t.phone) for t in acknowledged}
    extra_threads = sum(
        max(0, sum(1 for root in slack.roots(channel) if pretty_phone(phone) in root["text"]) - 1)
        for channel, phone in threads
    )
    return Tally(len(acknowledged), lost, duplicates + extra_threads, misplaced)


def sent_tally(twilio: TwilioEmulator, expected: list[tuple[str, str]]) -> Tally:
    """Each expected (to, body) must have reached the carrier exactly once."""
    sent = Counter((m["to"], m["body"]) for m in twilio.sent)
    lost = sum(1 for item in expected if sent[item] == 0)
    duplicates = sum(sent[item] - 1 for item in set(expected) if sent[item] > 1)
    return Tally(len(expected), lost, duplicates)


def replies_expected(replies: list[Reply]) -> list[tuple[str, str]]:
    """(to, body) of each acknowledged reply: what the carrier must receive once."""
    return [(r.phone, r.body) for r in replies if r.acknowledged]


# -- the server's own account of pending work --------------------------------------------------------------------


async def pending_work(url: str) -> dict[str, int]:
    """What the server still owes: Slack outbox rows pending, outbound texts queued or being sent, campaigns
    not finished. All zero means nothing more will reach either emulator."""
    db = Database(url)
    try:
        async with db.session() as session:
            outbox = await session.scalar(
                select(func.count()).select_from(SlackOutbox).where(SlackOutbox.status == "pending")
            )
            texts = await session.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.direction == "out", Message.status.in_(("queued", "sending")))
            )
            campaigns = await session.scalar(
                select(func.count()).select_from(Campaign).where(Campaign.state.in_(("scheduled", "running")))
            )
    finally:
        await db.dispose()
    return {"outbox": outbox, "texts": texts, "campaigns": campaigns}


async def wait_settled(url: str, timeout: float = 60.0) -> None:
    """Wait until the server owes nothing (see `pending_work`); AssertionError with what is left otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        left = await pending_work(url)
        if not any(left.values()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"server still owes work after {timeout}s: {left}")
        await asyncio.sleep(0.25)


# -- campaigns -----------------------------------------------------------------------------------------------


def _approve_button(slack: SlackEmulator) -> str | None:
    """The campaign id on the newest Approve button in the A2P channel, if its preview is posted."""
    values = [
        element["value"]
        for message in slack.messages.get(A2P_CHANNEL, [])
        for block in message.get("blocks") or []
        for element in block.get("elements", [])
        if element.get("action_id") == "campaign_approve"
    ]
    return values[-1] if values else None


async def create_campaign(slack: SlackEmulator, url: str, spec: str, *, timeout: float = 30.0) -> str:
    """`/sms campaign create <spec>` as the admin; returns the campaign id once its preview (with the Approve
    button) is in Slack."""
    status, body = await slack.send_command(
        url + "/slack/events", user_id=ADMIN, channel_id=A2P_CHANNEL, text=f"campaign create {spec}"
    )
    assert status == 200, body
    await slack.wait_for(
        lambda: _approve_button(slack) is not None, timeout=timeout, what="the campaign preview with its Approve button"
    )
    return _approve_button(slack)


async def approve_campaign(slack: SlackEmulator, url: str, campaign_id: str) -> None:
    """`/sms campaign approve ID` as the approver: the campaign starts sending."""
    status, body = await slack.send_command(
        url + "/slack/events", user_id=APPROVER, channel_id=A2P_CHANNEL, text=f"campaign approve {campaign_id}"
    )
    assert status == 200 and "approved" in body, body
