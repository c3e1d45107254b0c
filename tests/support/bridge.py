"""Run the real sms-bridge app on loopback, configured against the test emulators."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiohttp import web
from sqlalchemy import event, func, select

from bot.app import build_app
from bot.services import Services
from bot.settings import load_settings
from handlers.common import SERVICES
from storage.models import Conversation, SlackOutbox
from tests.emulators import SlackEmulator, TelnyxEmulator, TwilioEmulator

LINE = "+14155550100"
A2P_LINE = "+14155550199"
CHANNEL = "C0SUPPORT"
A2P_CHANNEL = "C0MARKETING"
ADMIN, APPROVER, AGENT, STRANGER = "U0ADMIN", "U0LEAD", "U0AGENT", "U0STRANGER"

DEFAULT_CONFIG = f"""
admins = ["{ADMIN}"]
approvers = ["{APPROVER}"]

[[lines]]
number = "{LINE}"
channel = "{CHANNEL}"
kind = "p2p"
mps = 50
brand = "Acme"
help_text = "Acme: help@acme.example. Msg&data rates may apply. Reply STOP to opt out."
join_keywords = ["JOIN"]

[[lines]]
number = "{A2P_LINE}"
channel = "{A2P_CHANNEL}"
kind = "both"
mps = 50
brand = "Acme Deals"
help_text = "Acme Deals: deals@acme.example. Reply STOP to opt out."
join_keywords = ["DEALS"]
double_opt_in = true

[teams]
oncall = ["U0ALICE", "U0BOB"]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Bridge:
    """One sms-bridge process (in this event loop), serving HTTP on 127.0.0.1."""

    def __init__(
        self,
        *,
        database_url: str,
        slack: SlackEmulator,
        twilio: TwilioEmulator,
        tmp_path: Path,
        config: str = DEFAULT_CONFIG,
        env: dict | None = None,
        telnyx: TelnyxEmulator | None = None,
        **build_options,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config_path = tmp_path / "sms-bridge.toml"
        config_path.write_text(config)
        self.env = {
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": slack.signing_secret,
            "SLACK_API_URL": slack.url,
            "DATABASE_URL": database_url,
            "TWILIO_ACCOUNT_SID": twilio.account_sid,
            "TWILIO_AUTH_TOKEN": twilio.auth_token,
            "TWILIO_API_URL": twilio.url,
            "PUBLIC_URL": self.url,
            "PORT": str(self.port),
            "SMS_BRIDGE_CONFIG": str(config_path),
            **(
                {"TELNYX_API_KEY": telnyx.api_key, "TELNYX_PUBLIC_KEY": telnyx.public_key, "TELNYX_API_URL": telnyx.url}
                if telnyx is not None
                else {}
            ),
            **(env or {}),
        }
        self.build_options = {"freeze_gc": False, **build_options}
        self._runner: web.AppRunner | None = None
        self.app: web.Application | None = None

    @property
    def services(self) -> Services:
        return self.app[SERVICES]

    @property
    def events_url(self) -> str:
        return self.url + "/slack/events"

    async def start(self) -> Bridge:
        self.app = build_app(load_settings(self.env), **self.build_options)
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def restart(self) -> Bridge:
        await self.stop()
        return await self.start()


@contextmanager
def messages_inserted(bridge: Bridge) -> Iterator[list[tuple]]:
    """The parameters of every `INSERT INTO messages` the bridge sends meanwhile, as tuples of their values."""
    inserted: list[tuple] = []

    def note(_conn, _cursor, statement, parameters, _context, _executemany) -> None:
        if statement.startswith("INSERT INTO messages"):
            inserted.append(tuple(parameters.values() if isinstance(parameters, dict) else parameters))

    engine = bridge.services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield inserted
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def root_recorded(bridge: Bridge, channel: str, thread_ts: str, timeout: float = 10.0) -> None:
    """Wait until the bridge has recorded the root it posted: Slack shows it a moment before, and a thread
    reply in that moment is parked until it is."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with bridge.services.db.session() as session:
            found = await session.scalar(
                select(Conversation.id).where(Conversation.channel == channel, Conversation.thread_ts == thread_ts)
            )
        if found is not None:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the root {thread_ts} in {channel} was never recorded")
        await asyncio.sleep(0.02)  # yields to the bridge's outbox


async def outbox_drained(bridge: Bridge, timeout: float = 15.0) -> None:
    """Wait until every Slack outbox row is done (posted, folded or given up)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with bridge.services.db.session() as session:
            pending = await session.scalar(
                select(func.count()).select_from(SlackOutbox).where(SlackOutbox.status != "done")
            )
        if not pending:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the Slack outbox did not drain: {pending} rows not done")
        await asyncio.sleep(0.02)  # yields to the bridge's outbox


def card_first_text(slack: SlackEmulator, channel: str, thread_ts: str) -> str | None:
    """The customer's first text as the thread's root card carries it (from its notification text), or None
    when the card carries no text."""
    root = slack.message(channel, thread_ts)
    if root is None or not any(block.get("block_id") == "customer" for block in root.get("blocks") or []):
        return None
    return unescape(root["text"].split(": ", 1)[1])


def unescape(text: str) -> str:
    """What a person wrote, from the escaped form Slack is sent."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def thread_texts(slack: SlackEmulator, channel: str, thread_ts: str) -> list[str]:
    """Customer texts of a conversation, in order: the one its root card carries, then those in the thread,
    whether Slack got them one post each or folded together."""
    first = card_first_text(slack, channel, thread_ts)
    replies = [unescape(line) for message in slack.thread(channel, thread_ts) for line in message["text"].split("\n")]
    return ([first] if first is not None else []) + replies
