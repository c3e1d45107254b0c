"""An embedded Slack workspace for local mode, mounted on the bot's own aiohttp application.

Two faces, both under one URL prefix (``/_local/slack`` in ``bot.app``):

* the **Web API** the bot calls (``{prefix}/api/{method}``), answering in Slack's shapes, and the file
  upload/download URLs of the ``files_upload_v2`` flow;
* the **human side**: JSON endpoints that do what a person in Slack would do (post, run ``/sms``, click a
  button, submit a modal). Each becomes a real request to the bot's ``/slack/events``, in Slack's exact
  envelope and signed with the signing secret, so the bot runs exactly the code it runs against Slack.

``GET {prefix}/state`` shows everything (channels, threads, reactions, files, ephemerals, open modals) and
``GET {prefix}/events`` streams every change as Server-Sent Events. State lives in memory only.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import json
import logging
import mimetypes
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from bot.local import sse
from bot.local.json_body import BadRequest, read_limited, read_object

log = logging.getLogger(__name__)

TEAM = {"id": "T0LOCAL", "name": "Local workspace", "domain": "local"}
APP_ID = "A0LOCAL"
BOT_ID = "B0LOCAL"
BOT_USER_ID = "U0BOT"
BOT_NAME = "sms-bridge"
VERIFICATION_TOKEN = "local-verification-token"
BOT_PROFILE = {"id": BOT_ID, "app_id": APP_ID, "name": BOT_NAME, "team_id": TEAM["id"], "deleted": False}

# (id, real name, display name, phone, tz, tz label, tz offset in seconds, workspace admin)
PEOPLE = (
    ("U0ALICE", "Alice (agent)", "alice", "+14155550101", "America/Los_Angeles", "Pacific Time", -28800, False),
    ("U0BOB", "Bob (agent)", "bob", "+14155550102", "America/New_York", "Eastern Time", -18000, False),
    ("U0LEAD", "Lead (approver)", "lead", "+14155550103", "America/Chicago", "Central Time", -21600, False),
    ("U0ADMIN", "Admin", "admin", "+14155550104", "Europe/London", "Greenwich Mean Time", 0, True),
)

MAX_JSON_BYTES = 256 * 1024  # human-side requests
MAX_SAY_BYTES = 8 * 1024 * 1024  # `say` may carry files (base64)
MAX_FILE_BYTES = 10 * 1024 * 1024  # one uploaded file
MAX_EPHEMERALS_PER_USER = 100
MAX_TOKENS = 1000  # remembered trigger_ids and response_urls
EVENT_QUEUE_SIZE = 1000
BOT_TIMEOUT = aiohttp.ClientTimeout(total=30)

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,20}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")


class ApiError(Exception):
    """A Web API call refused the way Slack refuses: HTTP 200, ``{"ok": false, "error": CODE}``."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class BotUnreachable(Exception):
    """The bot's events URL did not answer."""


@dataclass
class Channel:
    id: str
    name: str
    created: int = field(default_factory=lambda: int(time.time()))
    messages: dict[str, dict] = field(default_factory=dict)  # ts -> message

    def ordered(self) -> list[dict]:
        return sorted(self.messages.values(), key=lambda m: Decimal(m["ts"]))

    def info(self) -> dict:
        is_dm = self.id.startswith("D")
        return {
            "id": self.id,
            "name": self.name,
            "created": self.created,
            "is_channel": not is_dm,
            "is_im": is_dm,
            "is_group": False,
            "is_private": is_dm,
            "is_archived": False,
            "is_general": False,
            "is_member": True,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_shared": False,
            "context_team_id": TEAM["id"],
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }


def _person(
    user_id: str,
    real_name: str,
    display_name: str,
    phone: str,
    tz: str,
    tz_label: str,
    offset: int,
    is_admin: bool,
    *,
    is_bot: bool = False,
) -> dict:
    profile = {
        "real_name": real_name,
        "display_name": display_name,
        "phone": phone,
        "title": "",
        "email": f"{display_name}@local.example" if not is_bot else "",
        "team": TEAM["id"],
    }
    if is_bot:
        profile["bot_id"] = BOT_ID
    return {
        "id": user_id,
        "team_id": TEAM["id"],
        "name": display_name,
        "real_name": real_name,
        "deleted": False,
        "is_bot": is_bot,
        "is_app_user": False,
        "is_admin": is_admin,
        "is_owner": is_admin,
        "tz": tz,
        "tz_label": tz_label,
        "tz_offset": offset,
        "profile": profile,
    }


def _ts_value(ts: Any, error: str = "invalid_ts") -> Decimal:
    try:
        return Decimal(str(ts))
    except InvalidOperation:
        raise ApiError(error) from None


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes")


def _json_arg(args: dict, name: str, error: str) -> Any:
    """A structured argument: a JSON string in form/query arguments, already decoded in a JSON body."""
    value = args.get(name)
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(error) from None
    return value


def _short_id(prefix: str) -> str:
    return prefix + secrets.token_hex(5).upper()


class LocalWorkspace:
    """One in-memory Slack workspace with one installed app (the bot) and a few seeded people."""

    def __init__(self, *, token: str, signing_secret: str, bot_events_url: str, public_url: str | None = None) -> None:
        self.token = token
        self.signing_secret = signing_secret
        self.bot_events_url = bot_events_url
        self._public_url = public_url
        self.prefix = "/_local/slack"
        self._verifier = SignatureVerifier(signing_secret)
        self._users: dict[str, dict] = {p[0]: _person(*p) for p in PEOPLE}
        self._users[BOT_USER_ID] = _person(BOT_USER_ID, BOT_NAME, BOT_NAME, "", "UTC", "UTC", 0, False, is_bot=True)
        self._channels: dict[str, Channel] = {}
        self._ephemerals: dict[str, list[dict]] = {}
        self._files: dict[str, dict] = {}  # file id -> {"info": ..., "content": bytes | None, "upload_key": ...}
        self._views: dict[str, dict] = {}
        self._view_stacks: dict[str, list[str]] = {}  # user -> open view ids, bottom first
        self._triggers: dict[str, str] = {}  # trigger_id -> user
        self._response_urls: dict[str, dict] = {}  # response_url key -> where answers go
        self.responses: list[dict] = []  # what the bot POSTed to response_urls, latest last
        self._subscribers: set[asyncio.Queue] = set()
        self._seq = 0
        self._last_us = 0
        self._http: aiohttp.ClientSession | None = None
        self._methods: dict[str, Callable[[dict], dict]] = {
            "api.test": lambda args: {"args": {k: v for k, v in args.items() if isinstance(v, str)}},
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.push": self._views_push,
        }

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
        p = self.prefix
        app.router.add_route("*", p + "/api/{method}", self._handle_api)
        app.router.add_post(p + "/upload/{file_id}/{key}", self._handle_upload)
        app.router.add_get(p + "/files/{file_id}/{name}", self._handle_download)
        app.router.add_post(p + "/response/{key}", self._handle_response_url)
        app.router.add_post(p + "/say", self._handle_say)
        app.router.add_post(p + "/command", self._handle_command)
        app.router.add_post(p + "/action", self._handle_action)
        app.router.add_post(p + "/view_submission", self._handle_view_submission)
        app.router.add_get(p + "/state", self._handle_state)
        app.router.add_get(p + "/events", self._handle_events)
        app.on_shutdown.append(self._on_shutdown)
        app.on_cleanup.append(self._on_cleanup)

    async def _on_shutdown(self, app: web.Application) -> None:
        for queue in list(self._subscribers):
            self._close_queue(queue)

    async def _on_cleanup(self, app: web.Application) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    # ------------------------------------------------------------------ state and live events

    @property
    def messages(self) -> list[dict]:
        """Every message (roots and replies) of every channel, in posting order, each with its `channel`."""
        everything = [m for channel in self._channels.values() for m in channel.messages.values()]
        return [self._public(m) for m in sorted(everything, key=lambda m: _ts_value(m["ts"]))]

    def state(self) -> dict:
        """The whole workspace as JSON: channels with threads nested, ephemerals per user, open views."""
        channels = []
        for channel in self._channels.values():
            roots = []
            for message in channel.ordered():
                if self._is_reply(message):
                    continue
                root = self._public(message)
                root["replies"] = [self._public(r) for r in self._replies(channel, message["ts"])]
                roots.append(root)
            channels.append({**channel.info(), "messages": roots})
        return {
            "team": dict(TEAM),
            "bot": {"user_id": BOT_USER_ID, "bot_id": BOT_ID, "app_id": APP_ID, "name": BOT_NAME},
            "users": [copy.deepcopy(u) for u in self._users.values()],
            "channels": channels,
            "ephemerals": copy.deepcopy(self._ephemerals),
            "views": [
                {**copy.deepcopy(self._views[v]), "user": user}
                for user, stack in self._view_stacks.items()
                for v in stack
            ],
            "responses": copy.deepcopy(self.responses),
        }

    def subscribe(self) -> asyncio.Queue:
        """A queue that receives every state change as a dict with a `type`; None means the stream ended."""
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
        event = {"type": kind, "seq": self._seq, **data}
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(copy.deepcopy(event))
            except asyncio.QueueFull:
                self._close_queue(queue)

    # ------------------------------------------------------------------ storage helpers

    def _next_ts(self) -> str:
        micros = max(time.time_ns() // 1000, self._last_us + 1)
        self._last_us = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _channel(self, channel_id: Any) -> Channel:
        """A channel by ID, created on first use (the bot's configured line channels simply appear)."""
        if not isinstance(channel_id, str):
            raise ApiError("channel_not_found")
        if _USER_ID.match(channel_id):  # posting to a user ID opens the DM with them, as in Slack
            channel_id = "D" + channel_id[1:]
        if not _CHANNEL_ID.match(channel_id):
            raise ApiError("channel_not_found")
        channel = self._channels.get(channel_id)
        if channel is None:
            name = channel_id.lower() if not channel_id.startswith("D") else f"dm-{channel_id[1:].lower()}"
            channel = self._channels[channel_id] = Channel(id=channel_id, name=name)
        return channel

    def _user(self, user_id: Any) -> dict:
        """A person acting on the human side; unknown but well-formed IDs join the workspace."""
        if not isinstance(user_id, str) or not _USER_ID.match(user_id):
            raise BadRequest(f"user must be a Slack user ID like U0ALICE, not {user_id!r}")
        if user_id not in self._users:
            name = user_id[1:].lower()
            self._users[user_id] = _person(user_id, name.title(), name, "", "UTC", "UTC", 0, False)
        return self._users[user_id]

    @staticmethod
    def _is_reply(message: dict) -> bool:
        return bool(message.get("thread_ts")) and message["thread_ts"] != message["ts"]

    @staticmethod
    def _replies(channel: Channel, thread_ts: str) -> list[dict]:
        return [m for m in channel.ordered() if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts]

    @staticmethod
    def _public(message: dict, *, metadata: bool = True) -> dict:
        out = copy.deepcopy(message)
        if not metadata:
            out.pop("metadata", None)
        return out

    def _thread_root(self, channel: Channel, thread_ts: Any, *, restore: bool = False) -> dict:
        root = channel.messages.get(str(thread_ts))
        if root is None and restore and re.fullmatch(r"\d{9,10}\.\d{6}", str(thread_ts)):
            # The bot's database outlives this in-memory workspace (a restarted `serve`): keep its old threads
            # usable by standing in for the lost root (the bot's next card update fills it in again).
            root = channel.messages[str(thread_ts)] = self._bot_message(
                {
                    "text": "(this thread started before the local workspace restarted)",
                    "ts": str(thread_ts),
                    "channel": channel.id,
                }
            )
        if root is None:
            raise ApiError("thread_not_found")
        if self._is_reply(root):
            root = channel.messages[root["thread_ts"]]
        return root

    def _store(
        self, channel: Channel, message: dict, *, thread_ts: Any = None, broadcast: bool = False, by_bot: bool = False
    ) -> dict:
        """Add a message (at channel level, or as a reply) and tell subscribers."""
        root = self._thread_root(channel, thread_ts, restore=by_bot) if thread_ts else None
        message = {**message, "ts": self._next_ts(), "channel": channel.id}
        if root is not None:
            message["thread_ts"] = root["ts"]
            message["parent_user_id"] = root.get("user")
            if broadcast:
                message["subtype"] = "thread_broadcast"
            root["thread_ts"] = root["ts"]
            root["reply_count"] = root.get("reply_count", 0) + 1
            users = root.setdefault("reply_users", [])
            if message.get("user") and message["user"] not in users:
                users.append(message["user"])
            root["reply_users_count"] = len(users)
            root["latest_reply"] = message["ts"]
        channel.messages[message["ts"]] = message
        self._emit("message", channel=channel.id, message=self._public(message))
        return message

    def _message(self, args: dict, ts_arg: str = "ts") -> tuple[Channel, dict]:
        channel = self._channel(args.get("channel"))
        message = channel.messages.get(str(args.get(ts_arg)))
        if message is None:
            raise ApiError("message_not_found")
        return channel, message

    @staticmethod
    def _blocks(raw: Any, error: str = "invalid_blocks") -> list[dict] | None:
        """Block Kit blocks as Slack keeps them: a list of objects, each with a block_id."""
        if raw is None:
            return None
        if not isinstance(raw, list) or not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in raw):
            raise ApiError(error)
        blocks = copy.deepcopy(raw)
        for block in blocks:
            block.setdefault("block_id", secrets.token_urlsafe(4))
        return blocks

    @staticmethod
    def _metadata(args: dict) -> dict | None:
        metadata = _json_arg(args, "metadata", "invalid_metadata_format")
        if metadata is None:
            return None
        if (
            not isinstance(metadata, dict)
            or not isinstance(metadata.get("event_type"), str)
            or not isinstance(metadata.get("event_payload", {}), dict)
        ):
            raise ApiError("invalid_metadata_format")
        return {"event_type": metadata["event_type"], "event_payload": metadata.get("event_payload", {})}

    def _content(self, args: dict) -> dict:
        """text / blocks / attachments of a post or an update."""
        content: dict[str, Any] = {}
        if "text" in args and args["text"] is not None:
            content["text"] = str(args["text"])
        blocks = self._blocks(_json_arg(args, "blocks", "invalid_blocks"))
        if blocks is not None:
            content["blocks"] = blocks
        attachments = _json_arg(args, "attachments", "invalid_attachments")
        if attachments is not None:
            if not isinstance(attachments, list):
                raise ApiError("invalid_attachments")
            content["attachments"] = attachments
        if not content.get("text") and not content.get("blocks") and not content.get("attachments"):
            raise ApiError("no_text")
        content.setdefault("text", "")
        return content

    def _remember(self, table: dict, key: str, value: Any) -> None:
        table[key] = value
        while len(table) > MAX_TOKENS:
            table.pop(next(iter(table)))

    def _new_trigger(self, user: str) -> str:
        trigger_id = f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        self._remember(self._triggers, trigger_id, user)
        return trigger_id

    def _new_response_url(self, context: dict) -> str:
        key = secrets.token_urlsafe(18)
        self._remember(self._response_urls, key, context)
        return f"{self.public_url}/response/{key}"

    # ------------------------------------------------------------------ Web API

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            args = await self._api_args(request)
            self._check_token(request, args)
            handler = self._methods.get(method)
            if handler is None:
                raise ApiError("unknown_method")
            result = handler(args)
        except ApiError as exc:
            log.info("local slack: %s refused: %s", method, exc.error)
            return web.json_response({"ok": False, "error": exc.error})
        return web.json_response({"ok": True, **result})

    @staticmethod
    async def _api_args(request: web.Request) -> dict:
        """Arguments from the query string and the body (JSON, urlencoded or multipart), as Slack reads them."""
        args: dict[str, Any] = dict(request.query)
        if not request.body_exists:
            return args
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError("invalid_json") from None
            if not isinstance(body, dict):
                raise ApiError("invalid_json")
            args.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
        else:
            raise ApiError("invalid_form_data")
        return args

    def _check_token(self, request: web.Request, args: dict) -> None:
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else args.get("token")
        args.pop("token", None)
        if not token:
            raise ApiError("not_authed")
        if not secrets.compare_digest(str(token), self.token):
            raise ApiError("invalid_auth")

    def _auth_test(self, args: dict) -> dict:
        return {
            "url": self.public_url + "/",
            "team": TEAM["name"],
            "user": BOT_NAME,
            "team_id": TEAM["id"],
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "is_enterprise_install": False,
        }

    def _bot_message(self, content: dict) -> dict:
        return {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM["id"],
            "bot_profile": dict(BOT_PROFILE),
            **content,
        }

    def _chat_post_message(self, args: dict) -> dict:
        channel = self._channel(args.get("channel"))
        message = self._bot_message(self._content(args))
        metadata = self._metadata(args)
        if metadata is not None:
            message["metadata"] = metadata
        stored = self._store(
            channel,
            message,
            thread_ts=args.get("thread_ts") or None,
            broadcast=_truthy(args.get("reply_broadcast")),
            by_bot=True,
        )
        return {"channel": channel.id, "ts": stored["ts"], "message": self._public(stored, metadata=False)}

    def _chat_update(self, args: dict) -> dict:
        channel, message = self._message(args)
        if message.get("bot_id") != BOT_ID:
            raise ApiError("cant_update_message")
        content = self._content(args)
        message.update(content)  # as in Slack, blocks not passed are kept
        metadata = self._metadata(args)
        if metadata is not None:
            message["metadata"] = metadata
        message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        self._emit("update", channel=channel.id, message=self._public(message))
        return {
            "channel": channel.id,
            "ts": message["ts"],
            "text": message.get("text", ""),
            "message": self._public(message, metadata=False),
        }

    def _chat_delete(self, args: dict) -> dict:
        channel, message = self._message(args)
        if message.get("bot_id") != BOT_ID:
            raise ApiError("cant_delete_message")
        self._delete(channel, message)
        return {"channel": channel.id, "ts": message["ts"]}

    def _delete(self, channel: Channel, message: dict) -> None:
        ts = message["ts"]
        if not self._is_reply(message) and message.get("reply_count"):
            # A thread's root leaves a tombstone so its replies stay readable, as in Slack.
            for key in ("blocks", "attachments", "files", "metadata", "bot_id", "app_id", "bot_profile"):
                message.pop(key, None)
            message.update({"subtype": "tombstone", "text": "This message was deleted.", "user": "USLACKBOT"})
            self._emit("update", channel=channel.id, message=self._public(message))
            return
        del channel.messages[ts]
        if self._is_reply(message) and message["thread_ts"] in channel.messages:
            root = channel.messages[message["thread_ts"]]
            replies = self._replies(channel, root["ts"])
            root["reply_count"] = len(replies)
            root["latest_reply"] = replies[-1]["ts"] if replies else root["ts"]
        self._emit("delete", channel=channel.id, ts=ts)

    def _chat_post_ephemeral(self, args: dict) -> dict:
        channel = self._channel(args.get("channel"))
        user = args.get("user")
        if not isinstance(user, str) or not _USER_ID.match(user):
            raise ApiError("user_not_found")
        ephemeral = {"channel": channel.id, **self._content(args)}
        if args.get("thread_ts"):
            ephemeral["thread_ts"] = str(args["thread_ts"])
        return {"message_ts": self._add_ephemeral(user, ephemeral)["ts"]}

    def _add_ephemeral(self, user: str, ephemeral: dict) -> dict:
        ephemeral = {
            "type": "message",
            "subtype": "ephemeral",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "ts": self._next_ts(),
            "to": user,
            **ephemeral,
        }
        shown = self._ephemerals.setdefault(user, [])
        shown.append(ephemeral)
        del shown[:-MAX_EPHEMERALS_PER_USER]
        self._emit("ephemeral", user=user, ephemeral=copy.deepcopy(ephemeral))
        return ephemeral

    def _reaction_target(self, args: dict) -> tuple[Channel, dict, str]:
        channel, message = self._message(args, "timestamp")
        name = str(args.get("name") or "").strip(":")
        if not name:
            raise ApiError("invalid_name")
        return channel, message, name

    def _reactions_add(self, args: dict) -> dict:
        channel, message, name = self._reaction_target(args)
        reactions = message.setdefault("reactions", [])
        reaction = next((r for r in reactions if r["name"] == name), None)
        if reaction is None:
            reaction = {"name": name, "users": [], "count": 0}
            reactions.append(reaction)
        if BOT_USER_ID in reaction["users"]:
            raise ApiError("already_reacted")
        reaction["users"].append(BOT_USER_ID)
        reaction["count"] = len(reaction["users"])
        self._emit("reaction", channel=channel.id, ts=message["ts"], reactions=copy.deepcopy(reactions))
        return {}

    def _reactions_remove(self, args: dict) -> dict:
        channel, message, name = self._reaction_target(args)
        reactions = message.get("reactions", [])
        reaction = next((r for r in reactions if r["name"] == name), None)
        if reaction is None or BOT_USER_ID not in reaction["users"]:
            raise ApiError("no_reaction")
        reaction["users"].remove(BOT_USER_ID)
        reaction["count"] = len(reaction["users"])
        message["reactions"] = [r for r in reactions if r["count"]]
        if not message["reactions"]:
            del message["reactions"]
        self._emit(
            "reaction", channel=channel.id, ts=message["ts"], reactions=copy.deepcopy(message.get("reactions", []))
        )
        return {}

    def _users_info(self, args: dict) -> dict:
        user = self._users.get(str(args.get("user")))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def _conversations_info(self, args: dict) -> dict:
        return {"channel": self._channel(args.get("channel")).info()}

    @staticmethod
    def _window(args: dict) -> tuple[Decimal, Decimal, bool, int]:
        oldest = _ts_value(args.get("oldest") or 0, "invalid_ts_oldest")
        latest = _ts_value(args.get("latest") or "9999999999.999999", "invalid_ts_latest")
        try:
            limit = max(1, min(int(args.get("limit") or 100), 999))
        except (TypeError, ValueError):
            raise ApiError("invalid_limit") from None
        return oldest, latest, _truthy(args.get("inclusive")), limit

    @staticmethod
    def _within(ts: str, oldest: Decimal, latest: Decimal, inclusive: bool) -> bool:
        value = Decimal(ts)
        return (oldest <= value <= latest) if inclusive else (oldest < value < latest)

    def _page(self, messages: list[dict], args: dict, limit: int) -> dict:
        """One page of `messages` (already ordered); the cursor is the index to resume at."""
        try:
            start = int(args.get("cursor") or 0)
        except ValueError:
            raise ApiError("invalid_cursor") from None
        page = messages[start : start + limit]
        more = start + limit < len(messages)
        metadata = _truthy(args.get("include_all_metadata"))
        return {
            "messages": [self._public(m, metadata=metadata) for m in page],
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _conversations_history(self, args: dict) -> dict:
        channel = self._channel(args.get("channel"))
        oldest, latest, inclusive, limit = self._window(args)
        roots = [
            m
            for m in reversed(channel.ordered())
            if (not self._is_reply(m) or m.get("subtype") == "thread_broadcast")
            and self._within(m["ts"], oldest, latest, inclusive)
        ]
        return {**self._page(roots, args, limit), "pin_count": 0}

    def _conversations_replies(self, args: dict) -> dict:
        channel = self._channel(args.get("channel"))
        if not args.get("ts"):
            raise ApiError("thread_not_found")
        root = self._thread_root(channel, args["ts"])
        oldest, latest, inclusive, limit = self._window(args)
        replies = [m for m in self._replies(channel, root["ts"]) if self._within(m["ts"], oldest, latest, inclusive)]
        return self._page([root, *replies], args, limit)

    # ------------------------------------------------------------------ files

    def _file_info(self, file_id: str, name: str, title: str, mimetype: str, size: int, user: str) -> dict:
        url = f"{self.public_url}/files/{file_id}/{quote(name)}"
        return {
            "id": file_id,
            "created": int(time.time()),
            "timestamp": int(time.time()),
            "name": name,
            "title": title,
            "mimetype": mimetype,
            "filetype": name.rsplit(".", 1)[-1] if "." in name else "binary",
            "pretty_type": mimetype,
            "user": user,
            "user_team": TEAM["id"],
            "mode": "hosted",
            "editable": False,
            "is_external": False,
            "is_public": True,
            "size": size,
            "url_private": url,
            "url_private_download": url + "?download=1",
            "permalink": url,
            "shares": {},
            "channels": [],
        }

    def _files_get_upload_url(self, args: dict) -> dict:
        filename = args.get("filename")
        try:
            length = int(args.get("length"))
        except (TypeError, ValueError):
            raise ApiError("invalid_arguments") from None
        if not isinstance(filename, str) or not filename or length < 0:
            raise ApiError("invalid_arguments")
        if length > MAX_FILE_BYTES:
            raise ApiError("file_too_large")
        file_id, key = _short_id("F"), secrets.token_urlsafe(18)
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        self._files[file_id] = {
            "info": self._file_info(file_id, filename, filename, mimetype, length, BOT_USER_ID),
            "content": None,
            "upload_key": key,
        }
        return {"upload_url": f"{self.public_url}/upload/{file_id}/{key}", "file_id": file_id}

    async def _handle_upload(self, request: web.Request) -> web.Response:
        entry = self._files.get(request.match_info["file_id"])
        if (
            entry is None
            or entry["upload_key"] is None
            or not secrets.compare_digest(entry["upload_key"], request.match_info["key"])
        ):
            return web.Response(status=404, text="unknown upload URL")
        content_type = request.content_type
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            part = await reader.next()
            while part is not None and not getattr(part, "filename", None):
                part = await reader.next()
            if part is None:
                return web.Response(status=400, text="no file in the multipart body")
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            data = await self._read_limited(part, MAX_FILE_BYTES)
        else:
            data = await self._read_limited(request.content, MAX_FILE_BYTES)
        if data is None:
            return web.Response(status=413, text=f"file larger than {MAX_FILE_BYTES} bytes")
        entry["content"], entry["upload_key"] = data, None
        entry["info"]["size"] = len(data)
        if content_type not in ("application/octet-stream", "application/x-www-form-urlencoded") and content_type:
            entry["info"]["mimetype"] = content_type
        return web.Response(text=f"OK - {len(data)}")

    @staticmethod
    async def _read_limited(stream: Any, limit: int) -> bytes | None:
        return await read_limited(stream, limit)

    def _files_complete_upload(self, args: dict) -> dict:
        items = _json_arg(args, "files", "invalid_arguments")
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise ApiError("invalid_arguments")
        infos = []
        for item in items:
            entry = self._files.get(str(item.get("id")))
            if entry is None or entry["content"] is None:
                raise ApiError("file_not_found")
            if item.get("title"):
                entry["info"]["title"] = str(item["title"])
            infos.append(entry["info"])
        targets = [c for c in [args.get("channel_id"), *str(args.get("channels") or "").split(",")] if c]
        for channel_id in targets:
            channel = self._channel(channel_id)
            message = self._bot_message(
                {
                    "text": str(args.get("initial_comment") or ""),
                    "upload": True,
                    "files": copy.deepcopy(infos),
                    "display_as_bot": False,
                }
            )
            stored = self._store(channel, message, thread_ts=args.get("thread_ts") or None, by_bot=True)
            for info in infos:
                info["channels"].append(channel.id)
                info["shares"].setdefault("public", {}).setdefault(channel.id, []).append({"ts": stored["ts"]})
        return {"files": copy.deepcopy(infos)}

    async def _handle_download(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""
        if not token or not secrets.compare_digest(token, self.token):
            return web.Response(status=403, text="a bot token is needed to download this file")
        entry = self._files.get(request.match_info["file_id"])
        if entry is None or entry["content"] is None:
            return web.Response(status=404, text="file not found")
        info = entry["info"]
        return web.Response(
            body=entry["content"],
            content_type=info["mimetype"],
            headers={"Content-Disposition": f'attachment; filename="{quote(info["name"])}"'},
        )

    # ------------------------------------------------------------------ views

    def _trigger_user(self, args: dict) -> str:
        user = self._triggers.get(str(args.get("trigger_id")))
        if user is None:
            raise ApiError("invalid_trigger_id")
        return user

    def _view_spec(self, args: dict) -> dict:
        spec = _json_arg(args, "view", "invalid_arguments")
        if not isinstance(spec, dict) or spec.get("type") not in ("modal", "home"):
            raise ApiError("invalid_arguments")
        return spec

    def _build_view(
        self, spec: dict, *, view_id: str | None = None, root_id: str | None = None, previous_id: str | None = None
    ) -> dict:
        view_id = view_id or _short_id("V")
        return {
            "id": view_id,
            "team_id": TEAM["id"],
            "type": spec["type"],
            "title": spec.get("title"),
            "submit": spec.get("submit"),
            "close": spec.get("close"),
            "blocks": self._blocks(spec.get("blocks") or [], "invalid_arguments"),
            "private_metadata": spec.get("private_metadata", ""),
            "callback_id": spec.get("callback_id", ""),
            "external_id": spec.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "clear_on_close": bool(spec.get("clear_on_close")),
            "notify_on_close": bool(spec.get("notify_on_close")),
            "root_view_id": root_id or view_id,
            "previous_view_id": previous_id,
            "app_id": APP_ID,
            "app_installed_team_id": TEAM["id"],
            "bot_id": BOT_ID,
        }

    def _open_view(self, user: str, spec: dict, *, push: bool) -> dict:
        stack = self._view_stacks.setdefault(user, [])
        if push:
            if not stack:
                raise ApiError("not_found")
            if len(stack) >= 3:
                raise ApiError("push_limit_reached")
            view = self._build_view(spec, root_id=self._views[stack[0]]["id"], previous_id=stack[-1])
        else:
            self._close_views(user)
            stack = self._view_stacks.setdefault(user, [])
            view = self._build_view(spec)
        self._views[view["id"]] = view
        stack.append(view["id"])
        self._emit("view", user=user, action="push" if push else "open", view=copy.deepcopy(view))
        return {"view": copy.deepcopy(view)}

    def _close_views(self, user: str, *, only_top: bool = False) -> None:
        stack = self._view_stacks.get(user, [])
        closing = stack[-1:] if only_top else list(stack)
        for view_id in closing:
            stack.remove(view_id)
            view = self._views.pop(view_id)
            self._emit("view", user=user, action="close", view=view)
        if not stack:
            self._view_stacks.pop(user, None)

    def _views_open(self, args: dict) -> dict:
        return self._open_view(self._trigger_user(args), self._view_spec(args), push=False)

    def _views_push(self, args: dict) -> dict:
        return self._open_view(self._trigger_user(args), self._view_spec(args), push=True)

    def _views_update(self, args: dict) -> dict:
        view = self._views.get(str(args.get("view_id") or ""))
        if view is None and args.get("external_id"):
            view = next((v for v in self._views.values() if v["external_id"] == args["external_id"]), None)
        if view is None:
            raise ApiError("not_found")
        if args.get("hash") and args["hash"] != view["hash"]:
            raise ApiError("hash_conflict")
        return {"view": self._replace_view(view, self._view_spec(args))}

    def _replace_view(self, view: dict, spec: dict) -> dict:
        fresh = self._build_view(
            spec, view_id=view["id"], root_id=view["root_view_id"], previous_id=view["previous_view_id"]
        )
        view.clear()
        view.update(fresh)
        user = next((u for u, stack in self._view_stacks.items() if view["id"] in stack), None)
        self._emit("view", user=user, action="update", view=copy.deepcopy(view))
        return copy.deepcopy(view)

    # ------------------------------------------------------------------ the human side (Python API)

    async def say(
        self, channel: str, user: str, text: str, thread_ts: str | None = None, files: list[dict] | None = None
    ) -> dict:
        """A person posts in a channel (or a thread). Returns the stored message and the bot's HTTP status.

        `files` items: {"name": ..., "mimetype": optional, "content_base64": ... or "text": ...}."""
        person = self._user(user)
        target = self._api_call(self._channel, channel)
        shared = [self._human_file(person["id"], item) for item in files or []]
        message: dict[str, Any] = {
            "type": "message",
            "user": person["id"],
            "text": _escape(text),
            "team": TEAM["id"],
            "client_msg_id": str(uuid.uuid4()),
            "blocks": [
                {
                    "type": "rich_text",
                    "block_id": secrets.token_urlsafe(4),
                    "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
                }
            ]
            if text
            else [],
        }
        if shared:
            message.update({"subtype": "file_share", "upload": True, "files": shared, "display_as_bot": False})
        stored = self._api_call(self._store, target, message, thread_ts=thread_ts or None)
        for info in shared:
            info["channels"].append(target.id)
        event = {
            k: v
            for k, v in self._public(stored).items()
            if k not in ("reply_count", "reply_users", "reply_users_count", "latest_reply")
        }
        event.update({"event_ts": stored["ts"], "channel_type": "im" if target.id.startswith("D") else "channel"})
        status, _answer = await self._deliver_event(event)
        return {
            "ok": True,
            "channel": target.id,
            "ts": stored["ts"],
            "message": self._public(stored),
            "bot_status": status,
        }

    async def command(self, channel: str, user: str, text: str, command: str = "/sms") -> dict:
        """A person runs a slash command. Returns {"status", "response"}: the bot's immediate answer (ack body)."""
        person = self._user(user)
        target = self._api_call(self._channel, channel)
        form = {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM["id"],
            "team_domain": TEAM["domain"],
            "channel_id": target.id,
            "channel_name": target.name,
            "user_id": person["id"],
            "user_name": person["name"],
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self._new_response_url({"user": person["id"], "channel": target.id}),
            "trigger_id": self._new_trigger(person["id"]),
        }
        status, answer = await self._deliver(urlencode(form).encode(), "application/x-www-form-urlencoded")
        if status == 200 and isinstance(answer, dict):
            self._show_answer(answer, {"user": person["id"], "channel": target.id})
        return {"status": status, "response": answer}

    async def action(
        self,
        channel: str,
        user: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
        block_id: str | None = None,
    ) -> dict:
        """A person clicks a button (or another element) on a message they can see."""
        person = self._user(user)
        target = self._api_call(self._channel, channel)
        message = target.messages.get(message_ts)
        ephemeral = None
        if message is None:
            ephemeral = next(
                (
                    e
                    for e in self._ephemerals.get(person["id"], [])
                    if e["ts"] == message_ts and e["channel"] == target.id
                ),
                None,
            )
            if ephemeral is None:
                raise BadRequest(f"no message {message_ts!r} in {target.id} that {person['id']} can see")
        shown = message if message is not None else ephemeral
        found_block, element = _find_element(shown.get("blocks") or [], action_id, block_id)
        if element is None:
            raise BadRequest(f"message {message_ts} has no element with action_id {action_id!r}")
        action_ts = self._next_ts()
        clicked = {
            "type": element.get("type", "button"),
            "action_id": action_id,
            "block_id": found_block,
            "action_ts": action_ts,
        }
        if "text" in element:
            clicked["text"] = element["text"]
        if value is not None or "value" in element:
            clicked["value"] = value if value is not None else element["value"]
        container = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": target.id,
            "is_ephemeral": ephemeral is not None,
        }
        context = {
            "user": person["id"],
            "channel": target.id,
            "message_ts": message_ts,
            "ephemeral": ephemeral is not None,
        }
        if shown.get("thread_ts"):
            container["thread_ts"] = context["thread_ts"] = shown["thread_ts"]
        payload = {
            "type": "block_actions",
            "user": self._actor(person),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": container,
            "trigger_id": self._new_trigger(person["id"]),
            "team": {"id": TEAM["id"], "domain": TEAM["domain"]},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": target.id, "name": target.name},
            "state": {"values": {}},
            "response_url": self._new_response_url(context),
            "actions": [clicked],
        }
        if message is not None:
            payload["message"] = self._public(message, metadata=False)
        status, answer = await self._deliver(
            urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"
        )
        return {"status": status, "response": answer}

    async def submit_view(self, user: str, view_id: str, values: dict) -> dict:
        """A person submits the modal they have open. `values` is Slack's `view.state.values`
        ({block_id: {action_id: {"type": ..., "value": ...}}}); a plain string stands for a text input's value."""
        person = self._user(user)
        if view_id not in self._view_stacks.get(person["id"], []):
            raise BadRequest(f"{person['id']} has no open view {view_id!r}")
        if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
            raise BadRequest("values must be an object of {block_id: {action_id: value}}")
        state = {
            block: {
                action: (v if isinstance(v, dict) else {"type": "plain_text_input", "value": v})
                for action, v in actions.items()
            }
            for block, actions in values.items()
        }
        view = self._views[view_id]
        view["state"] = {"values": state}
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM["id"], "domain": TEAM["domain"]},
            "user": self._actor(person),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self._new_trigger(person["id"]),
            "view": copy.deepcopy(view),
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        status, answer = await self._deliver(
            urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"
        )
        if status == 200:
            self._apply_response_action(person["id"], view, answer if isinstance(answer, dict) else {})
        return {"status": status, "response": answer}

    def _apply_response_action(self, user: str, view: dict, answer: dict) -> None:
        action = answer.get("response_action")
        try:
            if action == "errors":
                return  # the modal stays open; the errors are shown next to the inputs
            if action == "update" and isinstance(answer.get("view"), dict):
                self._replace_view(view, answer["view"])
            elif action == "push" and isinstance(answer.get("view"), dict):
                self._open_view(user, answer["view"], push=True)
            elif action == "clear":
                self._close_views(user)
            else:
                self._close_views(user, only_top=True)
        except ApiError as exc:
            log.warning("local slack: the bot answered a view submission with an unusable view: %s", exc.error)

    @staticmethod
    def _actor(person: dict) -> dict:
        return {"id": person["id"], "username": person["name"], "name": person["name"], "team_id": TEAM["id"]}

    def _human_file(self, user: str, item: Any) -> dict:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise BadRequest("each file needs a name and content_base64 or text")
        if isinstance(item.get("text"), str):
            data = item["text"].encode()
        elif isinstance(item.get("content_base64"), str):
            try:
                data = base64.b64decode(item["content_base64"], validate=True)
            except (binascii.Error, ValueError):
                raise BadRequest(f"file {item['name']!r}: content_base64 is not valid base64") from None
        else:
            raise BadRequest(f"file {item['name']!r} needs content_base64 or text")
        if len(data) > MAX_FILE_BYTES:
            raise BadRequest(f"file {item['name']!r} is larger than {MAX_FILE_BYTES} bytes")
        mimetype = item.get("mimetype") or mimetypes.guess_type(item["name"])[0] or "application/octet-stream"
        file_id = _short_id("F")
        info = self._file_info(file_id, item["name"], str(item.get("title") or item["name"]), mimetype, len(data), user)
        self._files[file_id] = {"info": info, "content": data, "upload_key": None}
        return info

    @staticmethod
    def _api_call(func: Callable, *args: Any, **kwargs: Any) -> Any:
        """Run a storage helper for the human side, turning Slack error codes into a 400's reason."""
        try:
            return func(*args, **kwargs)
        except ApiError as exc:
            raise BadRequest(exc.error.replace("_", " ")) from None

    def _show_answer(self, answer: dict, context: dict) -> None:
        """What Slack does with a command's ack body or a POST to a response_url."""
        user, channel = context["user"], context["channel"]
        target = self._channels[channel]
        original = target.messages.get(context.get("message_ts", "")) if not context.get("ephemeral") else None
        own_ephemeral = next((e for e in self._ephemerals.get(user, []) if e["ts"] == context.get("message_ts")), None)
        if _truthy(answer.get("delete_original")):
            if original is not None:
                self._delete(target, original)
            elif own_ephemeral is not None:
                self._ephemerals[user].remove(own_ephemeral)
                self._emit("ephemeral", user=user, ephemeral={**own_ephemeral, "deleted": True})
            return
        try:
            content = self._content(answer)
        except ApiError:
            return  # nothing to show (e.g. an empty acknowledgement)
        thread_ts = answer.get("thread_ts") or context.get("thread_ts")
        if _truthy(answer.get("replace_original")) and original is not None:
            original.update(content)
            self._emit("update", channel=channel, message=self._public(original))
        elif _truthy(answer.get("replace_original")) and own_ephemeral is not None:
            own_ephemeral.update(content)
            self._emit("ephemeral", user=user, ephemeral=copy.deepcopy(own_ephemeral))
        elif answer.get("response_type") == "in_channel":
            self._store(target, self._bot_message(content), thread_ts=thread_ts)
        else:
            self._add_ephemeral(
                user, {"channel": channel, **content, **({"thread_ts": thread_ts} if thread_ts else {})}
            )

    # ------------------------------------------------------------------ delivering to the bot

    async def _deliver_event(self, event: dict) -> tuple[int, Any]:
        envelope = {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM["id"],
            "context_team_id": TEAM["id"],
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": "Ev" + secrets.token_hex(6).upper(),
            "event_time": int(time.time()),
            "is_ext_shared_channel": False,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": TEAM["id"],
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
        }
        return await self._deliver(json.dumps(envelope).encode(), "application/json")

    async def _deliver(self, body: bytes, content_type: str) -> tuple[int, Any]:
        """POST a signed request to the bot, as Slack does. Returns (HTTP status, decoded answer body)."""
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": self._verifier.generate_signature(timestamp=timestamp, body=body),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=BOT_TIMEOUT)
        try:
            async with self._http.post(self.bot_events_url, data=body, headers=headers) as resp:
                raw = await resp.read()
                status, answer_type = resp.status, resp.content_type
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise BotUnreachable(
                f"the bot at {self.bot_events_url} did not answer: {type(exc).__name__} {exc}"
            ) from None
        if answer_type == "application/json":
            try:
                return status, json.loads(raw)
            except ValueError:
                pass
        text = raw.decode("utf-8", "replace")
        return status, text or None

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        context = self._response_urls.get(request.match_info["key"])
        if context is None:
            return web.json_response({"ok": False, "error": "expired_url"}, status=404)
        data = await self._read_limited(request.content, MAX_JSON_BYTES)
        try:
            answer = json.loads(data) if data else None
        except ValueError:
            answer = None
        if data is None or not isinstance(answer, dict):
            return web.json_response({"ok": False, "error": "invalid_payload"}, status=400)
        self.responses.append({"user": context["user"], "channel": context["channel"], "body": answer})
        del self.responses[:-50]
        self._show_answer(answer, context)
        return web.json_response({"ok": True})

    # ------------------------------------------------------------------ the human side (HTTP)

    async def _json_body(self, request: web.Request, limit: int = MAX_JSON_BYTES) -> dict:
        return await read_object(request, limit)

    @staticmethod
    def _field(body: dict, name: str, *, required: bool = True, kind: type = str) -> Any:
        value = body.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, kind) or (kind is str and required and not value):
            what = {str: "a non-empty string", dict: "an object", list: "a list"}[kind]
            raise BadRequest(f"field {name!r} must be {what}" if name in body else f"field {name!r} is required")
        return value

    async def _human(self, request: web.Request, limit: int, run: Callable[[dict], Any]) -> web.Response:
        try:
            body = await self._json_body(request, limit)
            result = await run(body)
        except BadRequest as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        except BotUnreachable as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=502)
        return web.json_response(result)

    async def _handle_say(self, request: web.Request) -> web.Response:
        f = self._field
        return await self._human(
            request,
            MAX_SAY_BYTES,
            lambda b: self.say(
                f(b, "channel"),
                f(b, "user"),
                f(b, "text", required=not b.get("files")) or "",
                thread_ts=f(b, "thread_ts", required=False),
                files=f(b, "files", required=False, kind=list),
            ),
        )

    async def _handle_command(self, request: web.Request) -> web.Response:
        f = self._field
        return await self._human(
            request,
            MAX_JSON_BYTES,
            lambda b: self.command(
                f(b, "channel"),
                f(b, "user"),
                f(b, "text", required=False) or "",
                command=f(b, "command", required=False) or "/sms",
            ),
        )

    async def _handle_action(self, request: web.Request) -> web.Response:
        f = self._field
        return await self._human(
            request,
            MAX_JSON_BYTES,
            lambda b: self.action(
                f(b, "channel"),
                f(b, "user"),
                f(b, "message_ts"),
                f(b, "action_id"),
                value=f(b, "value", required=False),
                block_id=f(b, "block_id", required=False),
            ),
        )

    async def _handle_view_submission(self, request: web.Request) -> web.Response:
        f = self._field
        return await self._human(
            request,
            MAX_JSON_BYTES,
            lambda b: self.submit_view(f(b, "user"), f(b, "view_id"), f(b, "values", required=False, kind=dict) or {}),
        )

    async def _handle_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state(), dumps=lambda obj: json.dumps(obj, indent=2))

    async def _handle_events(self, request: web.Request) -> web.StreamResponse:
        queue = self.subscribe()
        return await sse.stream(
            request, queue, event_id=lambda event: event["seq"], on_close=lambda: self.unsubscribe(queue)
        )


def _escape(text: str) -> str:
    """Slack delivers what people type with &, < and > escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _find_element(blocks: list[dict], action_id: str, block_id: str | None) -> tuple[str | None, dict | None]:
    """The interactive element with `action_id` (in `block_id` when given), and the block it is in."""
    for block in blocks:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        candidates = list(block.get("elements") or []) + ([block["accessory"]] if block.get("accessory") else [])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block.get("block_id"), element
    return block_id, None
