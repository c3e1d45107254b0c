"""Local mode's Slack: the emulated workspace mounted on the bot's own aiohttp application, with a few people,
kept on disk, and watched by the playground.

Under one prefix (``/_local/slack`` in ``bot.app``): the Web API and file URLs (``web_api``), the human side
(``human``), ``GET /state`` (everything, as JSON) and ``GET /events`` (every change, as Server-Sent Events).
"""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.local import sse
from bot.local.slack import shapes
from bot.local.slack.delivery import Delivery
from bot.local.slack.human import Human, ResponseUrls
from bot.local.slack.state import Identity, WorkspaceState
from bot.local.slack.store import WorkspaceStore
from bot.local.slack.web_api import WebApi

EVENT_QUEUE_SIZE = 1000

# (id, real name, display name, phone, tz, workspace admin)
PEOPLE = (
    ("U0ALICE", "Alice (agent)", "alice", "+14155550101", "America/Los_Angeles", False),
    ("U0BOB", "Bob (agent)", "bob", "+14155550102", "America/New_York", False),
    ("U0LEAD", "Lead (approver)", "lead", "+14155550103", "America/Chicago", False),
    ("U0ADMIN", "Admin", "admin", "+14155550104", "Europe/London", True),
)


class LocalWorkspace:
    """One Slack workspace with one installed app (the bot) and a few seeded people. With `store_path` it keeps
    its channels, people, messages and files in that SQLite file across restarts."""

    def __init__(
        self,
        *,
        token: str,
        signing_secret: str,
        bot_events_url: str,
        public_url: str | None = None,
        store_path: Path | None = None,
    ) -> None:
        self.bot_events_url = bot_events_url
        self.prefix = "/_local/slack"
        self._public_url = public_url
        self.slack = WorkspaceState(Identity())
        for user_id, real_name, display_name, phone, tz, is_admin in PEOPLE:
            self.slack.add_user(
                user_id, real_name=real_name, name=display_name, display_name=display_name, phone=phone, tz=tz,
                email=f"{display_name}@local.example", is_admin=is_admin,
            )  # fmt: skip
        self.slack.on_change = self._emit
        self.store = WorkspaceStore(store_path, self.slack) if store_path else None
        after_change = self.store.flush if self.store else None
        self.api = WebApi(
            self.slack,
            token=token,
            base_url=lambda: self.public_url,
            after_change=after_change,
            restore_lost_threads=True,
        )
        self.delivery = Delivery(self.slack, signing_secret=signing_secret)
        self.response_urls = ResponseUrls(self.slack, self.api, after_change)
        self.human = Human(
            self.slack,
            self.api,
            self.delivery,
            self.response_urls,
            app_url=lambda: self.bot_events_url,
            after_change=after_change,
        )
        self._subscribers: set[asyncio.Queue] = set()
        self._seq = 0

    # ------------------------------------------------------------------ wiring

    @property
    def public_url(self) -> str:
        """Where the bot (and a browser) reach the workspace: given, or the origin of the bot's events URL."""
        if self._public_url:
            return self._public_url.rstrip("/") + self.prefix
        parts = urlsplit(self.bot_events_url)
        return f"{parts.scheme}://{parts.netloc}{self.prefix}"

    def mount(self, app: web.Application, prefix: str = "/_local/slack") -> None:
        """Add the workspace's routes to `app` under `prefix`."""
        self.prefix = prefix.rstrip("/")
        self.api.mount(app, self.prefix)
        self.human.mount(app, self.prefix)
        app.router.add_post(self.prefix + "/response/{key}", self.response_urls.handle)
        app.router.add_get(self.prefix + "/state", self._handle_state)
        app.router.add_get(self.prefix + "/events", self._handle_events)
        app.on_startup.append(self._on_startup)
        app.on_shutdown.append(self._on_shutdown)
        app.on_cleanup.append(self._on_cleanup)

    async def _on_startup(self, app: web.Application) -> None:
        if self.store is not None:
            await self.store.open()
            for record in self.slack.files.values():  # PUBLIC_URL may have changed since they were stored
                record.update(self.api.file_urls(record["id"], record["name"]))

    async def _on_shutdown(self, app: web.Application) -> None:
        for queue in list(self._subscribers):
            self._close_queue(queue)

    async def _on_cleanup(self, app: web.Application) -> None:
        await self.delivery.close()
        if self.store is not None:
            await self.store.close()

    # ------------------------------------------------------------------ the human side

    async def say(self, channel: str, user: str, text: str, **options: Any) -> dict:
        """A person posts (see `Human.say`)."""
        return await self.human.say(channel, user, text, **options)

    async def command(self, channel: str, user: str, text: str, command: str = "/sms") -> dict:
        """A person runs a slash command (see `Human.command`)."""
        return await self.human.command(channel, user, text, command=command)

    async def action(self, channel: str, user: str, message_ts: str, action_id: str, **options: Any) -> dict:
        """A person clicks (see `Human.action`)."""
        return await self.human.action(channel, user, message_ts, action_id, **options)

    async def submit_view(self, user: str, view_id: str, values: dict) -> dict:
        """A person submits a modal (see `Human.submit_view`)."""
        return await self.human.submit_view(user, view_id, values)

    # ------------------------------------------------------------------ what the playground sees

    @property
    def responses(self) -> list[dict]:
        """What the bot POSTed to response URLs, latest last."""
        return self.slack.responses

    @property
    def messages(self) -> list[dict]:
        """Every message (roots and replies) of every channel, in posting order."""
        everything = [m for messages in self.slack.messages.values() for m in messages]
        return [shapes.message(self.slack, m) for m in sorted(everything, key=lambda m: float(m["ts"]))]

    def state(self) -> dict:
        """The whole workspace as JSON: channels with threads nested, ephemerals per user, open views."""
        slack, identity = self.slack, self.slack.identity
        channels = []
        for channel in slack.channels.values():
            roots = []
            for record in slack.messages.get(channel["id"], []):
                if record["thread_ts"]:
                    continue
                root = shapes.message(slack, record)
                root["replies"] = [shapes.message(slack, r) for r in slack.replies(channel["id"], record["ts"])]
                roots.append(root)
            channels.append({**shapes.channel(channel), "messages": roots})
        ephemerals: dict[str, list[dict]] = {}
        for record in slack.ephemerals:
            ephemerals.setdefault(record["user"], []).append(shapes.ephemeral(identity, record))
        return {
            "team": {"id": identity.team_id, "name": identity.team_name, "domain": identity.team_domain},
            "bot": {
                "user_id": identity.bot_user_id,
                "bot_id": identity.bot_id,
                "app_id": identity.app_id,
                "name": identity.bot_name,
            },
            "users": copy.deepcopy(list(slack.users.values())),
            "channels": channels,
            "ephemerals": ephemerals,
            "views": [
                {**copy.deepcopy(slack.views[view_id]), "user": user}
                for user, stack in slack.view_stacks.items()
                for view_id in stack
            ],
            "responses": copy.deepcopy(slack.responses),
        }

    def subscribe(self) -> asyncio.Queue:
        """A queue that receives every change as a dict with a `type`; None means the stream ended."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=EVENT_QUEUE_SIZE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._subscribers.discard(queue)

    def _close_queue(self, queue: asyncio.Queue) -> None:
        # A subscriber that cannot keep up (or a shutdown) ends its stream; it can reload /state and reconnect.
        self._subscribers.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)

    def _emit(self, kind: str, **data: Any) -> None:
        self._seq += 1
        if not self._subscribers:
            return
        event = {"type": kind, "seq": self._seq, **data}
        if "ts" in data and kind != "delete":
            record = self.slack.message(data["channel"], data["ts"])
            if record is not None:
                event["message"] = shapes.message(self.slack, record)
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._close_queue(queue)

    async def _handle_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state(), dumps=lambda obj: json.dumps(obj, indent=2))

    async def _handle_events(self, request: web.Request) -> web.StreamResponse:
        queue = self.subscribe()
        return await sse.stream(
            request, queue, event_id=lambda event: event["seq"], on_close=lambda: self.unsubscribe(queue)
        )
