"""Loopback emulator of the Slack Web API and of Slack's deliveries to the app.

Point slack_sdk's ``AsyncWebClient(base_url=emulator.url)`` at it; drive the app with
``send_event`` / ``user_message`` / ``send_command`` / ``send_action``, which sign requests the
way Slack does. State (messages, files, views, ...) is public for assertions.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import mimetypes
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from ._base import Fault, LoopbackServer, request_key

MAX_TEXT = 40_000
MAX_BLOCKS = 50
# Keys of stored messages that are emulator bookkeeping, not part of Slack's message object.
PARAMS_KEY = request_key("slack_params")
_INTERNAL_KEYS = {"channel", "reactions", "files", "edited", "edited_by", "delivery", "event_id"}


class SlackError(Exception):
    """Raised by a method implementation; answered as HTTP 200 {"ok": false, "error": code}."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


class RateLimited(Exception):
    """Per-channel posting limit exceeded; answered with HTTP 429 like Slack."""


def _new_id(prefix: str, length: int = 10) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def _rich_text(text: str) -> list[dict]:
    """The blocks Slack attaches to a message a person typed."""
    return [
        {
            "type": "rich_text",
            "block_id": secrets.token_hex(3),
            "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
        }
    ]


def _tz_offset(tz: str) -> int:
    try:
        offset = dt.datetime.now(ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return int(offset.total_seconds()) if offset else 0


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in {"1", "true", "yes"}


class SlackEmulator(LoopbackServer):
    """Slack Web API + Events/Commands/Interactivity delivery, on a loopback port."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-token",
        signing_secret: str = "test-signing-secret",
        team_id: str = "T0TEST",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        channel_rate_per_sec: float | None = None,
        app_id: str = "A0APP",
        team_domain: str = "testteam",
    ) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.channel_rate_per_sec = channel_rate_per_sec
        self.root = ""  # "http://127.0.0.1:PORT", without the /api/ suffix

        self.messages: dict[str, list[dict]] = collections.defaultdict(list)
        self.ephemerals: list[dict] = []
        self.files: dict[str, dict] = {}
        self.users: dict[str, dict] = {}
        self.channels: dict[str, dict] = {}
        self.views: dict[str, dict] = {}
        self.calls: list[tuple[str, dict]] = []
        self.response_url_posts: list[dict] = []
        self.deliveries: list[dict] = []  # every request sent to the app: kind, url, status, body

        self._last_ts_us = 0
        self._recent_posts: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._uploads: dict[str, str] = {}  # upload id -> file id
        self._response_urls: dict[str, str] = {}  # response id -> channel id
        self._verifier = SignatureVerifier(signing_secret)
        self._methods: dict[str, Callable[[dict], dict]] = {
            "api.test": lambda p: {"args": p},
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.delete": self._chat_delete,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "files.info": self._files_info,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
        }

    # ------------------------------------------------------------------ setup

    def _base_url(self, host: str, port: int) -> str:
        self.root = f"http://{host}:{port}"
        return f"{self.root}/api/"

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/v1/{upload_id}", self._handle_upload)
        app.router.add_get("/files-pri/{owner}/{name}", self._handle_download)
        app.router.add_get("/files-pri/{owner}/download/{name}", self._handle_download)
        app.router.add_get("/signin", self._handle_signin)
        app.router.add_post("/response/{response_id}", self._handle_response_url)

    def fail(self, kind: str, seconds: float, *, retry_after: int = 1, methods: set[str] | None = None) -> None:
        """For `seconds` from now, answer matching calls with a fault instead of normally.

        kind: "429" (ratelimited + Retry-After), "500"/"503" (plain-text server error),
        "timeout" (hold the request unanswered until the window ends, then drop it),
        "down" (close the connection without a response).
        methods: Web API method names (e.g. {"chat.postMessage"}); also "upload", "files-pri",
        "response" for the upload URL, file downloads and response URLs. None = everything.
        """
        self._add_fault(kind, seconds, retry_after, methods)

    def add_user(
        self, user_id: str, *, real_name: str, phone: str = "", tz: str = "America/New_York", **profile: Any
    ) -> dict:
        """Register a workspace member; returns the users.info "user" object."""
        name = real_name.lower().replace(" ", ".") or user_id.lower()
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": False,
            "real_name": real_name,
            "tz": tz,
            "tz_label": tz,
            "tz_offset": _tz_offset(tz),
            "profile": {
                "real_name": real_name,
                "real_name_normalized": real_name,
                "display_name": profile.pop("display_name", real_name),
                "display_name_normalized": real_name,
                "phone": phone,
                "email": profile.pop("email", f"{name}@example.com"),
                "team": self.team_id,
                **profile,
            },
            "is_admin": False,
            "is_owner": False,
            "is_bot": False,
            "is_app_user": False,
            "updated": int(time.time()),
        }
        self.users[user_id] = user
        return user

    def add_channel(
        self, channel_id: str, *, name: str | None = None, is_member: bool = True, is_archived: bool = False
    ) -> dict:
        """Register a channel explicitly (unknown C/G/D ids are created on first use)."""
        channel = {
            "id": channel_id,
            "name": name or channel_id.lower(),
            "is_channel": channel_id.startswith("C"),
            "is_group": channel_id.startswith("G"),
            "is_im": channel_id.startswith("D"),
            "is_private": channel_id.startswith("G"),
            "is_archived": is_archived,
            "is_member": is_member,
            "created": int(time.time()),
            "creator": self.bot_user_id,
            "context_team_id": self.team_id,
        }
        self.channels[channel_id] = channel
        return channel

    # ------------------------------------------------------------- assertions

    def roots(self, channel: str) -> list[dict]:
        """Top-level messages of `channel` (thread broadcasts included), oldest first."""
        return [
            m for m in self.messages.get(channel, []) if m["thread_ts"] is None or m["subtype"] == "thread_broadcast"
        ]

    def thread(self, channel: str, thread_ts: str) -> list[dict]:
        """Replies in the thread rooted at `thread_ts`, excluding the root, oldest first."""
        return [m for m in self.messages.get(channel, []) if m["thread_ts"] == thread_ts and m["ts"] != thread_ts]

    def message(self, channel: str, ts: str) -> dict | None:
        """The stored message with this ts, or None."""
        return next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)

    def method_calls(self, method: str) -> list[dict]:
        """Params of every call to `method`, in order."""
        return [params for name, params in self.calls if name == method]

    def _state_summary(self) -> str:
        counts = {channel: len(msgs) for channel, msgs in self.messages.items()}
        recent = [name for name, _ in self.calls[-10:]]
        return f"messages per channel={counts}, last calls={recent}, faults={dict(self.faults_injected)}"

    # ------------------------------------------------------------ web API

    def _next_ts(self) -> str:
        now_us = time.time_ns() // 1000
        self._last_ts_us = max(now_us, self._last_ts_us + 1)
        seconds, micros = divmod(self._last_ts_us, 1_000_000)
        return f"{seconds}.{micros:06d}"

    async def _params(self, request: web.Request) -> dict | SlackError:
        """Merge query string, form body and JSON body, as Slack accepts all three."""
        if PARAMS_KEY in request:
            return request[PARAMS_KEY]
        params: dict | SlackError = dict(request.query)
        body = await request.read()
        if body and request.content_type == "application/json":
            try:
                decoded = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                decoded = None
            params = {**params, **decoded} if isinstance(decoded, dict) else SlackError("invalid_json")
        elif body and request.content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        request[PARAMS_KEY] = params
        return params

    async def _record_request(self, request: web.Request) -> None:
        if request.path.startswith("/api/"):
            params = await self._params(request)
            self.calls.append((request.match_info.get("method", ""), params if isinstance(params, dict) else {}))

    def _fault_scope(self, request: web.Request) -> str | None:
        parts = request.path.strip("/").split("/")
        if parts[0] == "api" and len(parts) > 1:
            return parts[1]
        return parts[0] if parts[0] in {"upload", "files-pri", "response"} else None

    def _fault_response(self, fault: Fault) -> web.StreamResponse:
        if fault.kind == "429":
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(fault.retry_after)}
            )
        reason = "Internal Server Error" if fault.kind == "500" else "Service Unavailable"
        return web.Response(status=int(fault.kind), text=reason)

    def _internal_error_response(self) -> web.StreamResponse:
        return web.json_response({"ok": False, "error": "internal_error"})

    def _authenticate(self, request: web.Request, params: dict) -> None:
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else params.get("token")
        if not token:
            raise SlackError("not_authed")
        if token != self.bot_token:
            raise SlackError("invalid_auth")

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await self._params(request)
        try:
            if isinstance(params, SlackError):
                raise params
            self._authenticate(request, params)
            implementation = self._methods.get(method)
            if implementation is None:
                raise SlackError("unknown_method", req_method=method)
            result = implementation(params)
        except SlackError as err:
            return web.json_response({"ok": False, "error": err.code, **err.extra})
        except RateLimited:
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"})
        return web.json_response({"ok": True, **result})

    # -- helpers

    def _channel(self, value: Any, *, for_posting: bool = False) -> str:
        """Resolve a channel argument (id, #name, or user id for a DM) like Slack does."""
        if not isinstance(value, str) or not value:
            raise SlackError("channel_not_found")
        if value[0] in "UW":  # posting to a user id goes to the bot's DM with that user
            value = "D" + value[1:]
        name = value.lstrip("#")
        by_name = next((c for c in self.channels.values() if c["name"] == name), None)
        if by_name is not None:
            channel = by_name
        elif value[0] in "CGD" and value[1:].isalnum() and value.isupper():
            channel = self.channels.get(value) or self.add_channel(value)
        else:
            raise SlackError("channel_not_found")
        if for_posting and channel["is_archived"]:
            raise SlackError("is_archived")
        if for_posting and not channel["is_member"]:
            raise SlackError("not_in_channel")
        return channel["id"]

    def _blocks(self, params: dict) -> list[dict] | None:
        blocks = params.get("blocks")
        if blocks is None or blocks == "":
            return None
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                raise SlackError("invalid_blocks_format") from None
        if not isinstance(blocks, list) or not all(
            isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks
        ):
            raise SlackError("invalid_blocks")
        if len(blocks) > MAX_BLOCKS:
            raise SlackError("invalid_blocks")
        return blocks

    def _content(self, params: dict) -> tuple[str, list[dict] | None]:
        text = params.get("text")
        text = "" if text is None else str(text)
        blocks = self._blocks(params)
        if not text and not blocks and not params.get("attachments"):
            raise SlackError("no_text")
        if len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        return text, blocks

    def _thread_ts(self, params: dict) -> str | None:
        value = params.get("thread_ts")
        return str(value) if value not in (None, "") else None

    def _stored(self, channel: str, ts: Any) -> dict:
        message = self.message(channel, str(ts)) if ts else None
        if message is None:
            raise SlackError("message_not_found")
        return message

    def _bot_message(
        self,
        channel: str,
        *,
        text: str,
        blocks: list[dict] | None,
        thread_ts: str | None,
        subtype: str | None = None,
        files: list | None = None,
    ) -> dict:
        message = {
            "type": "message",
            "ts": self._next_ts(),
            "channel": channel,
            "text": text,
            "blocks": blocks,
            "thread_ts": thread_ts,
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "reactions": {},
            "files": files or [],
            "edited": False,
            "subtype": subtype,
        }
        self.messages[channel].append(message)
        return message

    def _public(self, message: dict) -> dict:
        """A stored message rendered the way the Web API returns it."""
        out = {k: v for k, v in message.items() if k not in _INTERNAL_KEYS and v is not None}
        if message.get("bot_id"):
            out["bot_profile"] = {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": "sms-bridge",
                "deleted": False,
                "team_id": self.team_id,
            }
        if message["thread_ts"]:
            root = self.message(message["channel"], message["thread_ts"])
            if root is not None and root.get("user"):
                out["parent_user_id"] = root["user"]
        if message["reactions"]:
            out["reactions"] = [{"name": n, "users": list(u), "count": len(u)} for n, u in message["reactions"].items()]
        if message["files"]:
            out["files"] = [self._file_object(f) for f in message["files"]]
            out["upload"] = True
        if message["edited"]:
            out["edited"] = message["edited_by"]
        return out

    def _check_rate(self, channel: str) -> None:
        rate = self.channel_rate_per_sec
        if rate is None:
            return
        # Slack allows about `rate` posts per second per channel, with short bursts tolerated;
        # a sliding window of max(1, 1/rate) seconds holding at most max(1, rate) posts models that.
        window = max(1.0, 1.0 / rate)
        allowed = max(1, int(rate))
        recent = self._recent_posts[channel]
        now = time.monotonic()
        while recent and now - recent[0] >= window:
            recent.popleft()
        if len(recent) >= allowed:
            self.faults_injected["channel_rate"] += 1
            raise RateLimited()
        recent.append(now)

    # -- methods

    def _auth_test(self, params: dict) -> dict:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Test Team",
            "user": "sms-bridge",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: dict) -> dict:
        channel = self._channel(params.get("channel"), for_posting=True)
        text, blocks = self._content(params)
        thread_ts = self._thread_ts(params)
        self._check_rate(channel)
        broadcast = thread_ts is not None and _truthy(params.get("reply_broadcast"))
        message = self._bot_message(
            channel, text=text, blocks=blocks, thread_ts=thread_ts, subtype="thread_broadcast" if broadcast else None
        )
        metadata = params.get("metadata")
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata)
            except ValueError:
                raise SlackError("invalid_metadata_format") from None
        if metadata is not None:
            message["metadata"] = metadata
        return {"channel": channel, "ts": message["ts"], "message": self._public(message)}

    def _listing(self, messages: list[dict], params: dict) -> dict:
        """conversations.history / replies: newest first, filtered by oldest/latest, metadata on request."""
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or 9e12)
        limit = int(params.get("limit") or 100)
        with_metadata = _truthy(params.get("include_all_metadata"))
        chosen = [m for m in messages if oldest < float(m["ts"]) <= latest]
        chosen = sorted(chosen, key=lambda m: float(m["ts"]), reverse=True)[:limit]
        out = []
        for message in chosen:
            public = self._public(message)
            if not with_metadata:
                public.pop("metadata", None)
            out.append(public)
        return {"messages": out, "has_more": False}

    def _conversations_history(self, params: dict) -> dict:
        channel = self._channel(params.get("channel"))
        return self._listing(
            [m for m in self.messages[channel] if not m["thread_ts"] or m["thread_ts"] == m["ts"]], params
        )

    def _conversations_replies(self, params: dict) -> dict:
        channel = self._channel(params.get("channel"))
        root = str(params.get("ts") or "")
        if self.message(channel, root) is None:
            raise SlackError("thread_not_found")
        return self._listing([m for m in self.messages[channel] if m["ts"] == root or m["thread_ts"] == root], params)

    def _chat_update(self, params: dict) -> dict:
        channel = self._channel(params.get("channel"))
        message = self._stored(channel, params.get("ts"))
        if message.get("bot_id") != self.bot_id:
            raise SlackError("cant_update_message")
        if "text" in params or "blocks" in params:
            text, blocks = self._content(params)
            message["text"] = text
            message["blocks"] = blocks
        message["edited"] = True
        message["edited_by"] = {"user": self.bot_id, "ts": self._next_ts()}
        return {"channel": channel, "ts": message["ts"], "text": message["text"], "message": self._public(message)}

    def _chat_post_ephemeral(self, params: dict) -> dict:
        channel = self._channel(params.get("channel"), for_posting=True)
        user = params.get("user")
        if not user:
            raise SlackError("user_not_in_channel")
        text, blocks = self._content(params)
        ts = self._next_ts()
        self.ephemerals.append(
            {
                "channel": channel,
                "user": user,
                "text": text,
                "blocks": blocks,
                "thread_ts": self._thread_ts(params),
                "message_ts": ts,
            }
        )
        return {"message_ts": ts}

    def _chat_delete(self, params: dict) -> dict:
        channel = self._channel(params.get("channel"))
        message = self._stored(channel, params.get("ts"))
        if message.get("bot_id") != self.bot_id:
            raise SlackError("cant_delete_message")
        self.messages[channel].remove(message)
        return {"channel": channel, "ts": message["ts"]}

    def _reaction_target(self, params: dict) -> tuple[dict, str]:
        channel = self._channel(params.get("channel"))
        message = self._stored(channel, params.get("timestamp"))
        name = str(params.get("name") or "").strip(":")
        if not name:
            raise SlackError("invalid_name")
        return message, name

    def _reactions_add(self, params: dict) -> dict:
        message, name = self._reaction_target(params)
        users = message["reactions"].setdefault(name, [])
        if self.bot_user_id in users:
            raise SlackError("already_reacted")
        users.append(self.bot_user_id)
        return {}

    def _reactions_remove(self, params: dict) -> dict:
        message, name = self._reaction_target(params)
        users = message["reactions"].get(name, [])
        if self.bot_user_id not in users:
            raise SlackError("no_reaction")
        users.remove(self.bot_user_id)
        if not users:
            del message["reactions"][name]
        return {}

    def _users_info(self, params: dict) -> dict:
        user = self.users.get(str(params.get("user") or ""))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": user}

    def _conversations_info(self, params: dict) -> dict:
        return {"channel": self.channels[self._channel(params.get("channel"))]}

    # -- files

    def _file_object(self, record: dict) -> dict:
        """Public file object (files.info, message `files`, event `files`)."""
        return {
            "id": record["id"],
            "created": record["created"],
            "timestamp": record["created"],
            "name": record["name"],
            "title": record["title"],
            "mimetype": record["mimetype"],
            "filetype": record["name"].rsplit(".", 1)[-1] if "." in record["name"] else "binary",
            "user": record["user"],
            "user_team": self.team_id,
            "mode": "hosted",
            "is_external": False,
            "is_public": True,
            "size": len(record["bytes"]),
            "url_private": record["url_private"],
            "url_private_download": record["url_private_download"],
            "permalink": f"https://{self.team_domain}.slack.com/files/{record['user']}/{record['id']}/{record['name']}",
            "channels": [record["channel"]] if record["channel"] else [],
        }

    def _new_file(self, *, name: str, title: str | None, mimetype: str | None, content: bytes, user: str) -> dict:
        if not self.root:
            raise RuntimeError("start() the SlackEmulator before registering files")
        file_id = _new_id("F")
        base = f"{self.root}/files-pri/{self.team_id}-{file_id}"
        record = {
            "id": file_id,
            "name": name,
            "filename": name,
            "title": title or name,
            "mimetype": mimetype or mimetypes.guess_type(name)[0] or "application/octet-stream",
            "bytes": content,
            "channel": None,
            "thread_ts": None,
            "user": user,
            "created": int(time.time()),
            "url_private": f"{base}/{name}",
            "url_private_download": f"{base}/download/{name}",
        }
        self.files[file_id] = record
        return record

    def _files_get_upload_url(self, params: dict) -> dict:
        filename = params.get("filename")
        try:
            length = int(params.get("length"))
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments") from None
        if not filename or length < 0:
            raise SlackError("invalid_arguments")
        record = self._new_file(name=str(filename), title=None, mimetype=None, content=b"", user=self.bot_user_id)
        record["expected_length"] = length
        record["uploaded"] = False
        upload_id = secrets.token_urlsafe(16)
        self._uploads[upload_id] = record["id"]
        return {"upload_url": f"{self.root}/upload/v1/{upload_id}", "file_id": record["id"]}

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        """The upload URL: raw bytes (what files_upload_v2 sends) or a multipart `file` field."""
        file_id = self._uploads.get(request.match_info["upload_id"])
        if file_id is None:
            return web.Response(status=404, text="Not Found")
        if request.content_type == "multipart/form-data":
            form = await request.post()
            field = form.get("file")
            content = field.file.read() if hasattr(field, "file") else str(field or "").encode()
        else:
            content = await request.read()
        record = self.files[file_id]
        record["bytes"] = content
        record["uploaded"] = True
        return web.Response(text=f"OK - {len(content)}", content_type="text/plain")

    def _files_complete_upload(self, params: dict) -> dict:
        entries = params.get("files")
        if isinstance(entries, str):
            try:
                entries = json.loads(entries)
            except ValueError:
                raise SlackError("invalid_arguments") from None
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
            raise SlackError("invalid_arguments")
        records = []
        for entry in entries:
            record = self.files.get(str(entry.get("id")))
            if record is None or not record.get("uploaded"):
                raise SlackError("file_not_found")
            if entry.get("title"):
                record["title"] = str(entry["title"])
            records.append(record)
        channel_arg = params.get("channel_id") or (str(params.get("channels") or "").split(",")[0] or None)
        if channel_arg:
            self._share_files(records, self._channel(channel_arg, for_posting=True), params)
        return {"files": [self._file_object(r) for r in records]}

    def _share_files(self, records: list[dict], channel: str, params: dict) -> None:
        thread_ts = self._thread_ts(params)
        for record in records:
            record["channel"], record["thread_ts"] = channel, thread_ts
        self._bot_message(
            channel,
            text=str(params.get("initial_comment") or ""),
            blocks=self._blocks(params),
            thread_ts=thread_ts,
            subtype="file_share",
            files=records,
        )

    def _files_info(self, params: dict) -> dict:
        record = self.files.get(str(params.get("file") or ""))
        if record is None:
            raise SlackError("file_not_found")
        return {"file": self._file_object(record), "comments": [], "response_metadata": {"next_cursor": ""}}

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        """url_private: without the bot token Slack redirects to its sign-in page (HTML, 200)."""
        owner = request.match_info["owner"]
        record = self.files.get(owner.split("-", 1)[-1])
        if request.headers.get("Authorization") != f"Bearer {self.bot_token}":
            raise web.HTTPFound(f"{self.root}/signin?redir={request.path}")
        if record is None or record["name"] != request.match_info["name"]:
            return web.Response(status=404, text="File not found")
        return web.Response(body=record["bytes"], content_type=record["mimetype"])

    async def _handle_signin(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="<!DOCTYPE html><html><body>Sign in to Slack</body></html>", content_type="text/html")

    # -- views

    def _view(self, params: dict) -> dict:
        view = params.get("view")
        if isinstance(view, str):
            try:
                view = json.loads(view)
            except ValueError:
                raise SlackError("invalid_arguments") from None
        if not isinstance(view, dict) or view.get("type") not in {"modal", "home"}:
            raise SlackError("invalid_arguments")
        return view

    def _store_view(
        self, view: dict, *, view_id: str | None = None, previous: str | None = None, root: str | None = None
    ) -> dict:
        view_id = view_id or _new_id("V")
        stored = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view["type"],
            "title": view.get("title"),
            "submit": view.get("submit"),
            "close": view.get("close"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": secrets.token_hex(8),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": root or view_id,
            "previous_view_id": previous,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
        }
        self.views[view_id] = stored
        return stored

    def _require_trigger(self, params: dict) -> None:
        if not params.get("trigger_id"):
            raise SlackError("invalid_trigger_id")

    def _views_open(self, params: dict) -> dict:
        self._require_trigger(params)
        return {"view": self._store_view(self._view(params))}

    def _views_push(self, params: dict) -> dict:
        self._require_trigger(params)
        top = next(reversed(self.views.values()), None)
        return {
            "view": self._store_view(self._view(params), previous=top and top["id"], root=top and top["root_view_id"])
        }

    def _views_update(self, params: dict) -> dict:
        view_id = params.get("view_id")
        if not view_id and params.get("external_id"):
            view_id = next((v["id"] for v in self.views.values() if v["external_id"] == params["external_id"]), None)
        current = self.views.get(str(view_id or ""))
        if current is None:
            raise SlackError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        stored = self._store_view(
            self._view(params),
            view_id=current["id"],
            previous=current["previous_view_id"],
            root=current["root_view_id"],
        )
        return {"view": stored}

    # -- response URLs

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        channel = self._response_urls.get(request.match_info["response_id"])
        if channel is None:
            return web.Response(status=404, text="no_service")
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        self.response_url_posts.append(body)
        if body.get("response_type") == "in_channel":
            blocks = body.get("blocks") if isinstance(body.get("blocks"), list) else None
            self._bot_message(channel, text=str(body.get("text") or ""), blocks=blocks, thread_ts=body.get("thread_ts"))
        return web.Response(text="ok")

    # ------------------------------------------------------------ deliveries to the app

    def _signed_headers(self, body: str, content_type: str, timestamp: int | None, signature: str | None) -> dict:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or self._verifier.generate_signature(timestamp=ts, body=body),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }

    async def _deliver(
        self,
        kind: str,
        url: str,
        body: str,
        content_type: str,
        *,
        timestamp: int | None,
        signature: str | None,
        extra_headers: dict | None = None,
    ) -> tuple[int, str]:
        headers = {**self._signed_headers(body, content_type, timestamp, signature), **(extra_headers or {})}
        async with self._client().post(url, data=body.encode(), headers=headers) as resp:
            text = await resp.text()
        self.deliveries.append({"kind": kind, "url": url, "status": resp.status, "body": text})
        return resp.status, text

    def event_envelope(self, event: dict, *, event_id: str | None = None) -> dict:
        """The Events API `event_callback` envelope Slack wraps around `event`."""
        return {
            "token": "verification-token",
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or _new_id("Ev"),
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + secrets.token_urlsafe(24),
        }

    async def send_event(
        self,
        app_url: str,
        event: dict,
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> tuple[int, str]:
        """POST `event` in an Events API envelope, signed; returns (HTTP status, body text)."""
        body = json.dumps(self.event_envelope(event, event_id=event_id))
        extra = (
            {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
            if retry_num is not None
            else None
        )
        return await self._deliver(
            "event", app_url, body, "application/json", timestamp=timestamp, signature=signature, extra_headers=extra
        )

    def add_file(self, *, name: str, mimetype: str, content: bytes, user: str = "U0HUMAN") -> dict:
        """Register a file a person uploaded; returns the file object to pass to user_message()."""
        record = self._new_file(name=name, title=name, mimetype=mimetype, content=content, user=user)
        record["uploaded"] = True
        return self._file_object(record)

    def _channel_type(self, channel: str) -> str:
        return {"D": "im", "G": "group"}.get(channel[:1], "channel")

    async def user_message(
        self,
        app_url: str,
        *,
        channel: str,
        user: str,
        text: str,
        thread_ts: str | None = None,
        files: list[dict] | None = None,
    ) -> dict:
        """A person posts in Slack: store the message, deliver its `message` event, return it."""
        message = self.user_posts(channel=channel, user=user, text=text, thread_ts=thread_ts, files=files)
        await self.deliver_message_event(app_url, message)
        return message

    def user_posts(
        self, *, channel: str, user: str, text: str, thread_ts: str | None = None, files: list[dict] | None = None
    ) -> dict:
        """A person posts in Slack: store the message (its event is not delivered yet) and return it."""
        records = [self.files[f["id"]] for f in files or []]
        message = {
            "type": "message",
            "ts": self._next_ts(),
            "channel": channel,
            "text": text,
            "blocks": _rich_text(text) if text else None,
            "thread_ts": thread_ts,
            "user": user,
            "team": self.team_id,
            "client_msg_id": str(uuid.uuid4()),
            "reactions": {},
            "files": records,
            "edited": False,
            "subtype": "file_share" if records else None,
            "event_id": _new_id("Ev"),
        }
        self.channels.get(channel) or self.add_channel(channel)
        self.messages[channel].append(message)
        for record in records:
            record["channel"], record["thread_ts"] = channel, thread_ts
        return message

    async def deliver_message_event(
        self, app_url: str, message: dict, *, retry_num: int | None = None
    ) -> tuple[int, str]:
        """Deliver the `message` event of a message from user_posts(); pass retry_num for Slack's retries of an
        event the app did not acknowledge (same event_id, X-Slack-Retry-Num). Returns (status, body)."""
        message["delivery"] = await self.send_event(
            app_url, self._message_event(message), event_id=message["event_id"], retry_num=retry_num
        )
        return message["delivery"]

    def _message_event(self, message: dict) -> dict:
        """The `message` event Slack delivers for a message a person posted."""
        channel = message["channel"]
        event = {
            **self._public(message),
            "channel": channel,
            "event_ts": message["ts"],
            "channel_type": self._channel_type(channel),
        }
        if message["files"]:
            event["upload"] = False
            event["display_as_bot"] = False
        return event

    def _user_name(self, user_id: str) -> str:
        return self.users[user_id]["name"] if user_id in self.users else user_id.lower()

    async def send_command(
        self,
        app_url: str,
        *,
        text: str,
        user_id: str,
        channel_id: str,
        command: str = "/sms",
        trigger_id: str | None = None,
        **overrides: Any,
    ) -> tuple[int, str]:
        """POST a slash command, form-encoded and signed like Slack; returns (status, body)."""
        response_id = secrets.token_urlsafe(12)
        self._response_urls[response_id] = channel_id
        channel = self.channels.get(channel_id)
        fields = {
            "token": "verification-token",
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel["name"]
            if channel
            else ("directmessage" if channel_id.startswith("D") else "general"),
            "user_id": user_id,
            "user_name": self._user_name(user_id),
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": f"{self.root}/response/{response_id}",
            "trigger_id": trigger_id
            or f"{secrets.randbelow(10**10)}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}",
        }
        fields.update({k: str(v) for k, v in overrides.items()})
        body = urlencode(fields)
        return await self._deliver(
            "command", app_url, body, "application/x-www-form-urlencoded", timestamp=None, signature=None
        )

    async def send_action(
        self, app_url: str, payload: dict, *, timestamp: int | None = None, signature: str | None = None
    ) -> tuple[int, str]:
        """POST an interactivity payload (form field `payload` = JSON), signed; returns (status, body).

        Missing envelope fields (token, api_app_id, team, is_enterprise_install) are filled in.
        """
        payload = {
            "token": "verification-token",
            "api_app_id": self.app_id,
            "team": {"id": self.team_id, "domain": self.team_domain},
            "is_enterprise_install": False,
            **payload,
        }
        body = urlencode({"payload": json.dumps(payload)})
        return await self._deliver(
            "action", app_url, body, "application/x-www-form-urlencoded", timestamp=timestamp, signature=signature
        )
