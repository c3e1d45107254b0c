"""What a Slack workspace holds: people, channels, messages and their threads, reactions, files, ephemeral
messages, open modals, and the trigger IDs and response URLs it handed to the app.

Records are plain dicts, kept the way the emulator needs them (``shapes`` renders them in Slack's JSON):

* message: ``type``, ``ts``, ``channel``, ``text``, ``blocks`` (list or None), ``thread_ts`` (the root's ts for
  a reply, None for a root), ``user``, ``team``, ``subtype`` (or None), ``reactions`` ({name: [user IDs]}),
  ``files`` (file records), ``edited`` ({"user", "ts"} or None); optionally ``bot_id``, ``app_id``,
  ``attachments``, ``metadata``, ``client_msg_id``, ``event_id`` (of its ``message`` event);
* file: ``id``, ``name``, ``title``, ``mimetype``, ``bytes``, ``user``, ``created``, ``uploaded``, ``channel`` and
  ``thread_ts`` (where it was shared, or None), ``url_private``, ``url_private_download``;
* ephemeral: ``channel``, ``user`` (who sees it), ``message_ts``, ``text``, ``blocks``, ``thread_ts``;
* channel: Slack's conversation object (``id``, ``name``, ``is_archived``, ``is_member``, ...).

Every change calls ``on_change`` (live views) and, when ``track_changes`` is set (a workspace kept on disk),
names what it touched in ``changed``.
"""

from __future__ import annotations

import collections
import datetime as dt
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_EPHEMERALS_PER_USER = 100
MAX_TOKENS = 1000  # remembered trigger_ids and response_urls
MAX_RESPONSES = 50
VIEW_STACK_LIMIT = 3
TS_PATTERN = re.compile(r"^\d{9,10}\.\d{6}$")


@dataclass(frozen=True)
class Identity:
    """The workspace and the one app installed in it."""

    team_id: str = "T0LOCAL"
    team_name: str = "Local workspace"
    team_domain: str = "local"
    app_id: str = "A0LOCAL"
    bot_id: str = "B0LOCAL"
    bot_user_id: str = "U0BOT"
    bot_name: str = "sms-bridge"
    verification_token: str = "local-verification-token"


class ApiError(Exception):
    """A Web API call refused the way Slack refuses: HTTP 200, ``{"ok": false, "error": CODE}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def new_id(prefix: str, length: int = 10) -> str:
    """A Slack-looking ID: `prefix` and `length` upper-case letters and digits."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def tz_offset(tz: str) -> int:
    """The zone's current UTC offset in seconds (0 for an unknown zone)."""
    try:
        offset = dt.datetime.now(ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return int(offset.total_seconds()) if offset else 0


def person(
    identity: Identity, user_id: str, *, real_name: str, phone: str = "", tz: str = "UTC", **profile: Any
) -> dict:
    """A member's users.info object."""
    name = profile.pop("name", None) or real_name.lower().replace(" ", ".") or user_id.lower()
    is_admin = bool(profile.pop("is_admin", False))
    is_bot = bool(profile.pop("is_bot", False))
    display_name = profile.pop("display_name", real_name)
    return {
        "id": user_id,
        "team_id": identity.team_id,
        "name": name,
        "deleted": False,
        "real_name": real_name,
        "tz": tz,
        "tz_label": profile.pop("tz_label", tz),
        "tz_offset": tz_offset(tz),
        "profile": {
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": display_name,
            "display_name_normalized": display_name,
            "phone": phone,
            "title": "",
            "email": profile.pop("email", "" if is_bot else f"{name}@example.com"),
            "team": identity.team_id,
            **({"bot_id": identity.bot_id} if is_bot else {}),
            **profile,
        },
        "is_admin": is_admin,
        "is_owner": is_admin,
        "is_bot": is_bot,
        "is_app_user": False,
        "updated": int(time.time()),
    }


def is_channel_id(value: str) -> bool:
    return value[:1] in ("C", "G", "D") and value[1:].isalnum() and value.isupper() and len(value) > 1


def is_user_id(value: Any) -> bool:
    return isinstance(value, str) and value[:1] in ("U", "W") and value[1:].isalnum() and value.isupper()


class WorkspaceState:
    """One workspace's records and the operations that change them."""

    def __init__(self, identity: Identity | None = None) -> None:
        self.identity = identity or Identity()
        self.users: dict[str, dict] = {}
        self.channels: dict[str, dict] = {}
        self.messages: dict[str, list[dict]] = collections.defaultdict(list)  # channel -> messages, oldest first
        self.files: dict[str, dict] = {}
        self.ephemerals: list[dict] = []
        self.views: dict[str, dict] = {}
        self.view_stacks: dict[str, list[str]] = {}  # user -> open view IDs, bottom first
        self.triggers: dict[str, str] = {}  # trigger_id -> user
        self.response_urls: dict[str, dict] = {}  # key -> {"user", "channel", optional "message_ts", ...}
        self.responses: list[dict] = []  # what the app POSTed to response URLs, latest last
        self.track_changes = False
        self.changed: set[tuple[str, ...]] = set()  # ("channel", id), ("message", channel, ts), ("file", id), ...
        self.on_change: Callable[..., None] = lambda kind, **data: None
        self._by_ts: dict[tuple[str, str], dict] = {}
        self._replies: dict[tuple[str, str], list[dict]] = collections.defaultdict(list)
        self._last_us = 0
        self.add_user(
            self.identity.bot_user_id,
            real_name=self.identity.bot_name,
            name=self.identity.bot_name,
            is_bot=True,
        )

    def _mark(self, key: tuple[str, ...]) -> None:
        if self.track_changes:
            self.changed.add(key)

    # ------------------------------------------------------------------ people and channels

    def add_user(self, user_id: str, **details: Any) -> dict:
        """Add (or replace) a member; `details` as for `person`."""
        user = self.users[user_id] = person(self.identity, user_id, **details)
        self._mark(("user", user_id))
        return user

    def add_channel(
        self, channel_id: str, *, name: str | None = None, is_member: bool = True, is_archived: bool = False
    ) -> dict:
        """Add (or replace) a channel."""
        is_dm = channel_id.startswith("D")
        channel = {
            "id": channel_id,
            "name": name or (f"dm-{channel_id[1:].lower()}" if is_dm else channel_id.lower()),
            "is_channel": channel_id.startswith("C"),
            "is_group": channel_id.startswith("G"),
            "is_im": is_dm,
            "is_private": not channel_id.startswith("C"),
            "is_archived": is_archived,
            "is_member": is_member,
            "created": int(time.time()),
            "creator": self.identity.bot_user_id,
            "context_team_id": self.identity.team_id,
        }
        self.channels[channel_id] = channel
        self._mark(("channel", channel_id))
        return channel

    def channel(self, value: Any, *, for_posting: bool = False) -> dict:
        """A channel by ID or #name, as Slack resolves one; a user ID means the DM with them. Unknown but
        well-formed IDs are created on first use (the bot's configured line channels simply appear)."""
        if not isinstance(value, str) or not value:
            raise ApiError("channel_not_found")
        if is_user_id(value):
            value = "D" + value[1:]
        name = value.lstrip("#")
        channel = self.channels.get(value) or next((c for c in self.channels.values() if c["name"] == name), None)
        if channel is None:
            if not is_channel_id(value):
                raise ApiError("channel_not_found")
            channel = self.add_channel(value)
        if for_posting and channel["is_archived"]:
            raise ApiError("is_archived")
        if for_posting and not channel["is_member"]:
            raise ApiError("not_in_channel")
        return channel

    # ------------------------------------------------------------------ messages

    def next_ts(self) -> str:
        """A new message timestamp, later than every earlier one."""
        micros = max(time.time_ns() // 1000, self._last_us + 1)
        self._last_us = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def message(self, channel: str, ts: Any) -> dict | None:
        """The message `ts` of `channel`, or None."""
        return self._by_ts.get((channel, str(ts)))

    def replies(self, channel: str, thread_ts: str) -> list[dict]:
        """The replies of a thread, oldest first (the root excluded)."""
        return list(self._replies.get((channel, thread_ts), ()))

    def thread_root(self, channel: str, thread_ts: Any) -> dict | None:
        """The root of the thread `thread_ts` names (a reply's ts names its thread too)."""
        root = self.message(channel, thread_ts)
        if root is not None and root["thread_ts"]:
            root = self.message(channel, root["thread_ts"]) or root
        return root

    def add_message(self, channel: str, message: dict, *, ts: str | None = None) -> dict:
        """Store a message (a reply when its `thread_ts` is set) and return the stored record."""
        record = {
            "type": "message",
            "text": "",
            "blocks": None,
            "thread_ts": None,
            "subtype": None,
            "team": self.identity.team_id,
            "files": [],
            "edited": None,
            **message,
            "reactions": dict(message.get("reactions") or {}),
            "ts": ts or self.next_ts(),
            "channel": channel,
        }
        self._index(record)
        self.messages[channel].append(record)
        self._mark(("message", channel, record["ts"]))
        self.on_change("message", channel=channel, ts=record["ts"])
        return record

    def load_message(self, record: dict) -> None:
        """Put back a message read from storage (messages come back oldest first)."""
        self._index(record)
        self.messages[record["channel"]].append(record)
        self._last_us = max(self._last_us, int(record["ts"].replace(".", "")))

    def _index(self, record: dict) -> None:
        self._by_ts[(record["channel"], record["ts"])] = record
        if record["thread_ts"] and record["thread_ts"] != record["ts"]:
            self._replies[(record["channel"], record["thread_ts"])].append(record)

    def touched(self, message: dict, kind: str = "update") -> None:
        """Record that `message` changed in place."""
        self._mark(("message", message["channel"], message["ts"]))
        self.on_change(kind, channel=message["channel"], ts=message["ts"])

    def delete_message(self, message: dict) -> None:
        """Delete a message; a thread's root with replies leaves a tombstone so they stay readable, as in Slack."""
        channel, ts = message["channel"], message["ts"]
        if not message["thread_ts"] and self._replies.get((channel, ts)):
            for key in ("attachments", "metadata", "bot_id", "app_id"):
                message.pop(key, None)
            message.update(
                {"subtype": "tombstone", "text": "This message was deleted.", "user": "USLACKBOT", "blocks": None}
            )
            message["files"] = []
            self.touched(message)
            return
        self.messages[channel].remove(message)
        del self._by_ts[(channel, ts)]
        if message["thread_ts"]:
            siblings = self._replies.get((channel, message["thread_ts"]), [])
            if message in siblings:
                siblings.remove(message)
        self._mark(("message", channel, ts))
        self.on_change("delete", channel=channel, ts=ts)

    def react(self, message: dict, name: str, user: str) -> None:
        """`user` adds the reaction `name`."""
        users = message["reactions"].setdefault(name, [])
        if user in users:
            raise ApiError("already_reacted")
        users.append(user)
        self.touched(message, "reaction")

    def unreact(self, message: dict, name: str, user: str) -> None:
        """`user` removes their reaction `name`."""
        users = message["reactions"].get(name, [])
        if user not in users:
            raise ApiError("no_reaction")
        users.remove(user)
        if not users:
            del message["reactions"][name]
        self.touched(message, "reaction")

    # ------------------------------------------------------------------ files

    def add_file(self, record: dict) -> dict:
        """Store a file record."""
        self.files[record["id"]] = record
        self.file_touched(record)
        return record

    def file_touched(self, record: dict) -> None:
        self._mark(("file", record["id"]))

    # ------------------------------------------------------------------ ephemerals

    def add_ephemeral(self, ephemeral: dict) -> dict:
        """Show a message to one person only; each keeps their latest few."""
        record = {"blocks": None, "thread_ts": None, "message_ts": self.next_ts(), **ephemeral}
        self.ephemerals.append(record)
        theirs = [e for e in self.ephemerals if e["user"] == record["user"]]
        for old in theirs[:-MAX_EPHEMERALS_PER_USER]:
            self.ephemerals.remove(old)
        self.on_change("ephemeral", user=record["user"])
        return record

    def remove_ephemeral(self, ephemeral: dict) -> None:
        self.ephemerals.remove(ephemeral)
        self.on_change("ephemeral", user=ephemeral["user"])

    # ------------------------------------------------------------------ triggers and response URLs

    def remember_trigger(self, trigger_id: str, user: str) -> None:
        """A trigger_id delivered to the app, for the views it may open on behalf of `user`."""
        _remember(self.triggers, trigger_id, user)

    def new_trigger(self, user: str) -> str:
        trigger_id = f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        self.remember_trigger(trigger_id, user)
        return trigger_id

    def new_response_url(self, context: dict) -> str:
        """A response URL key for answers in `context` ({"user", "channel", optional "message_ts", ...})."""
        key = secrets.token_urlsafe(18)
        _remember(self.response_urls, key, context)
        return key

    def add_response(self, context: dict, body: dict) -> None:
        self.responses.append({"user": context.get("user"), "channel": context.get("channel"), "body": body})
        del self.responses[:-MAX_RESPONSES]

    # ------------------------------------------------------------------ views

    def open_view(self, user: str, view: dict, *, push: bool) -> dict:
        """Open a modal for `user` (replacing what they had open), or push one onto their stack."""
        stack = self.view_stacks.get(user, [])
        if push:
            if not stack:
                raise ApiError("not_found")
            if len(stack) >= VIEW_STACK_LIMIT:
                raise ApiError("push_limit_reached")
            view["root_view_id"], view["previous_view_id"] = self.views[stack[0]]["id"], stack[-1]
        else:
            self.close_views(user)
        self.views[view["id"]] = view
        self.view_stacks.setdefault(user, []).append(view["id"])
        self.on_change("view", user=user, action="push" if push else "open")
        return view

    def view_user(self, view_id: str) -> str | None:
        return next((u for u, stack in self.view_stacks.items() if view_id in stack), None)

    def close_views(self, user: str, *, only_top: bool = False) -> None:
        """Close the modal on top of `user`'s stack, or all of them."""
        stack = self.view_stacks.get(user, [])
        for view_id in stack[-1:] if only_top else list(stack):
            stack.remove(view_id)
            self.views.pop(view_id, None)
            self.on_change("view", user=user, action="close")
        if not stack:
            self.view_stacks.pop(user, None)


def _remember(table: dict, key: str, value: Any) -> None:
    table[key] = value
    while len(table) > MAX_TOKENS:
        table.pop(next(iter(table)))
