"""The Web API methods the bot calls, answered in Slack's shapes, and the file URLs of the external upload flow.

Mounted under a prefix: ``{prefix}/api/{method}``, the upload URL ``{prefix}/upload/v1/{key}``, file downloads
``{prefix}/files-pri/{team}-{file}/{name}`` (``.../download/{name}``), and ``{prefix}/signin`` where a download
without the bot token lands, as in Slack.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import secrets
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any, cast
from urllib.parse import quote

from aiohttp import web

from bot.local.json_body import read_limited
from bot.local.slack import shapes
from bot.local.slack.state import TS_PATTERN, ApiError, WorkspaceState, new_id

log = logging.getLogger(__name__)

MAX_TEXT = 40_000
MAX_BLOCKS = 50
MAX_FILE_BYTES = 10 * 1024 * 1024
ARGS_KEY = web.RequestKey("slack_api_args", object) if hasattr(web, "RequestKey") else "slack_api_args"
LOST_ROOT_TEXT = "(this thread started before the local workspace restarted)"
READ_ONLY = {"api.test", "auth.test", "users.info", "conversations.info", "conversations.history"}
READ_ONLY |= {"conversations.replies", "files.info"}

Method = Callable[[dict], dict]


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes")


def json_arg(args: dict, name: str, error: str) -> Any:
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


def _ts_value(ts: Any, error: str) -> Decimal:
    try:
        return Decimal(str(ts))
    except InvalidOperation:
        raise ApiError(error) from None


async def api_args(request: web.Request) -> dict:
    """Arguments from the query string and the body (JSON, urlencoded or multipart), as Slack reads them.
    Read once per request; an unreadable body raises ApiError."""
    if ARGS_KEY not in request:
        try:
            request[ARGS_KEY] = await _read_args(request)
        except ApiError as exc:
            request[ARGS_KEY] = exc
    args = request[ARGS_KEY]
    if isinstance(args, ApiError):
        raise args
    return dict(cast(dict, args))


async def _read_args(request: web.Request) -> dict:
    args: dict[str, Any] = dict(request.query)
    if not request.body_exists:
        return args
    if request.content_type == "application/json":
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            raise ApiError("invalid_json") from None
        if not isinstance(body, dict):
            raise ApiError("invalid_json")
        args.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        args.update({k: v for k, v in form.items() if isinstance(v, str)})
    return args


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    return header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""


class WebApi:
    """Slack's Web API over a WorkspaceState, for one bot token.

    `base_url()` is where the bot reaches these routes (file and upload URLs start with it); `after_change` is
    awaited after every call that changed the workspace, before the answer goes out (local mode persists
    there). `restore_lost_threads`: a reply to a well-formed ts the workspace does not hold gets a stand-in
    root (local mode: the bot's database may remember threads from before the workspace kept them)."""

    def __init__(
        self,
        state: WorkspaceState,
        *,
        token: str,
        base_url: Callable[[], str],
        after_change: Callable[[], Awaitable[None]] | None = None,
        restore_lost_threads: bool = False,
    ) -> None:
        self.state = state
        self.token = token
        self.base_url = base_url
        self.after_change = after_change
        self.restore_lost_threads = restore_lost_threads
        self._uploads: dict[str, str] = {}  # upload key -> file id
        self.methods: dict[str, Method] = {
            "api.test": lambda args: {"args": {k: v for k, v in args.items() if isinstance(v, str)}},
            "auth.test": self.auth_test,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.delete": self.chat_delete,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "reactions.add": self.reactions_add,
            "reactions.remove": self.reactions_remove,
            "users.info": self.users_info,
            "conversations.info": self.conversations_info,
            "conversations.history": self.conversations_history,
            "conversations.replies": self.conversations_replies,
            "files.getUploadURLExternal": self.files_get_upload_url,
            "files.completeUploadExternal": self.files_complete_upload,
            "files.info": self.files_info,
            "views.open": self.views_open,
            "views.push": self.views_push,
            "views.update": self.views_update,
        }

    def mount(self, app: web.Application, prefix: str) -> None:
        """Add the routes under `prefix`."""
        app.router.add_route("*", prefix + "/api/{method}", self.handle_api)
        app.router.add_post(prefix + "/upload/v1/{key}", self.handle_upload)
        app.router.add_get(prefix + "/files-pri/{owner}/{name}", self.handle_download)
        app.router.add_get(prefix + "/files-pri/{owner}/download/{name}", self.handle_download)
        app.router.add_get(prefix + "/signin", self.handle_signin)
        app.router.add_get(prefix + "/archives/{channel}/{link}", self.handle_archive)

    # ------------------------------------------------------------------ HTTP

    async def handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            args = await api_args(request)
            self._authenticate(request, args)
            implementation = self.methods.get(method)
            if implementation is None:
                raise ApiError("unknown_method", req_method=method)
            result = implementation(args)
        except ApiError as exc:
            log.debug("slack emulator: %s refused: %s", method, exc.error)
            return web.json_response({"ok": False, "error": exc.error, **exc.extra})
        if method not in READ_ONLY and self.after_change is not None:
            await self.after_change()
        return web.json_response({"ok": True, **result})

    def _authenticate(self, request: web.Request, args: dict) -> None:
        token = bearer(request) or args.pop("token", None)
        args.pop("token", None)
        if not token:
            raise ApiError("not_authed")
        if not secrets.compare_digest(str(token), self.token):
            raise ApiError("invalid_auth")

    # ------------------------------------------------------------------ messages

    def auth_test(self, args: dict) -> dict:
        identity = self.state.identity
        return {
            "url": self.base_url() + "/",
            "team": identity.team_name,
            "user": identity.bot_name,
            "team_id": identity.team_id,
            "user_id": identity.bot_user_id,
            "bot_id": identity.bot_id,
            "app_id": identity.app_id,
            "is_enterprise_install": False,
        }

    def bot_message(self, content: dict) -> dict:
        """A message record posted by the bot, before it is stored."""
        identity = self.state.identity
        return {"user": identity.bot_user_id, "bot_id": identity.bot_id, "app_id": identity.app_id, **content}

    def content(self, args: dict) -> dict:
        """text / blocks / attachments of a post or an update."""
        content: dict[str, Any] = {}
        if args.get("text") is not None:
            content["text"] = str(args["text"])
        raw = json_arg(args, "blocks", "invalid_blocks_format")
        if raw is not None:
            content["blocks"] = shapes.blocks(raw)
            if len(content["blocks"]) > MAX_BLOCKS:
                raise ApiError("invalid_blocks")
        attachments = json_arg(args, "attachments", "invalid_attachments")
        if attachments is not None:
            if not isinstance(attachments, list):
                raise ApiError("invalid_attachments")
            content["attachments"] = attachments
        if not content.get("text") and not content.get("blocks") and not content.get("attachments"):
            raise ApiError("no_text")
        if len(content.get("text", "")) > MAX_TEXT:
            raise ApiError("msg_too_long")
        content.setdefault("text", "")
        return content

    @staticmethod
    def metadata(args: dict) -> dict | None:
        metadata = json_arg(args, "metadata", "invalid_metadata_format")
        if metadata is None:
            return None
        if (
            not isinstance(metadata, dict)
            or not isinstance(metadata.get("event_type"), str)
            or not isinstance(metadata.get("event_payload", {}), dict)
        ):
            raise ApiError("invalid_metadata_format")
        return {"event_type": metadata["event_type"], "event_payload": metadata.get("event_payload", {})}

    def thread(self, channel: str, thread_ts: Any) -> str | None:
        """The thread a post with this `thread_ts` goes to: its root's ts (None: at channel level)."""
        if thread_ts in (None, ""):
            return None
        root = self.state.thread_root(channel, thread_ts)
        if root is not None:
            return root["ts"]
        if not TS_PATTERN.match(str(thread_ts)):
            raise ApiError("thread_not_found")
        if self.restore_lost_threads:
            root = self.state.add_message(channel, self.bot_message({"text": LOST_ROOT_TEXT}), ts=str(thread_ts))
            self.state.messages[channel].sort(key=lambda m: Decimal(m["ts"]))
        return str(thread_ts)

    def post(self, channel: str, content: dict, *, thread_ts: Any = None, broadcast: bool = False) -> dict:
        """Store a message from the bot (in a thread when `thread_ts` names one)."""
        thread = self.thread(channel, thread_ts)
        subtype = "thread_broadcast" if broadcast and thread else content.pop("subtype", None)
        return self.state.add_message(channel, self.bot_message({**content, "thread_ts": thread, "subtype": subtype}))

    def chat_post_message(self, args: dict) -> dict:
        channel = self.state.channel(args.get("channel"), for_posting=True)["id"]
        content = self.content(args)
        metadata = self.metadata(args)
        if metadata is not None:
            content["metadata"] = metadata
        stored = self.post(
            channel, content, thread_ts=args.get("thread_ts"), broadcast=truthy(args.get("reply_broadcast"))
        )
        return {"channel": channel, "ts": stored["ts"], "message": shapes.message(self.state, stored, metadata=False)}

    def _stored(self, args: dict, ts_arg: str = "ts") -> dict:
        channel = self.state.channel(args.get("channel"))["id"]
        message = self.state.message(channel, args.get(ts_arg)) if args.get(ts_arg) else None
        if message is None:
            raise ApiError("message_not_found")
        return message

    def chat_update(self, args: dict) -> dict:
        message = self._stored(args)
        if message.get("bot_id") != self.state.identity.bot_id:
            raise ApiError("cant_update_message")
        message.update(self.content(args))  # as in Slack, blocks not passed are kept
        metadata = self.metadata(args)
        if metadata is not None:
            message["metadata"] = metadata
        message["edited"] = {"user": self.state.identity.bot_user_id, "ts": self.state.next_ts()}
        self.state.touched(message)
        return {
            "channel": message["channel"],
            "ts": message["ts"],
            "text": message["text"],
            "message": shapes.message(self.state, message, metadata=False),
        }

    def chat_delete(self, args: dict) -> dict:
        message = self._stored(args)
        if message.get("bot_id") != self.state.identity.bot_id:
            raise ApiError("cant_delete_message")
        self.state.delete_message(message)
        return {"channel": message["channel"], "ts": message["ts"]}

    def chat_post_ephemeral(self, args: dict) -> dict:
        channel = self.state.channel(args.get("channel"), for_posting=True)["id"]
        user = args.get("user")
        if not user:
            raise ApiError("user_not_in_channel")
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        ephemeral = self.state.add_ephemeral(
            {"channel": channel, "user": str(user), **self.content(args), "thread_ts": thread_ts}
        )
        return {"message_ts": ephemeral["message_ts"]}

    def _reaction(self, args: dict) -> tuple[dict, str]:
        message = self._stored(args, "timestamp")
        name = str(args.get("name") or "").strip(":")
        if not name:
            raise ApiError("invalid_name")
        return message, name

    def reactions_add(self, args: dict) -> dict:
        message, name = self._reaction(args)
        self.state.react(message, name, self.state.identity.bot_user_id)
        return {}

    def reactions_remove(self, args: dict) -> dict:
        message, name = self._reaction(args)
        self.state.unreact(message, name, self.state.identity.bot_user_id)
        return {}

    def users_info(self, args: dict) -> dict:
        user = self.state.users.get(str(args.get("user") or ""))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": user}

    def conversations_info(self, args: dict) -> dict:
        return {"channel": shapes.channel(self.state.channel(args.get("channel")))}

    @staticmethod
    def _window(args: dict) -> tuple[Decimal, Decimal, bool, int]:
        oldest = _ts_value(args.get("oldest") or 0, "invalid_ts_oldest")
        latest = _ts_value(args.get("latest") or "9999999999.999999", "invalid_ts_latest")
        try:
            limit = max(1, min(int(args.get("limit") or 100), 999))
        except (TypeError, ValueError):
            raise ApiError("invalid_limit") from None
        return oldest, latest, truthy(args.get("inclusive")), limit

    def _page(self, messages: list[dict], args: dict) -> dict:
        """One page of the `messages` (already ordered) inside the oldest/latest window; the cursor is the
        index to resume at."""
        oldest, latest, inclusive, limit = self._window(args)

        def within(ts: str) -> bool:
            value = Decimal(ts)
            return (oldest <= value <= latest) if inclusive else (oldest < value < latest)

        chosen = [m for m in messages if within(m["ts"])]
        try:
            start = int(args.get("cursor") or 0)
        except ValueError:
            raise ApiError("invalid_cursor") from None
        page, more = chosen[start : start + limit], start + limit < len(chosen)
        metadata = truthy(args.get("include_all_metadata"))
        return {
            "messages": [shapes.message(self.state, m, metadata=metadata) for m in page],
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def conversations_history(self, args: dict) -> dict:
        channel = self.state.channel(args.get("channel"))["id"]
        roots = [
            m
            for m in reversed(self.state.messages.get(channel, []))
            if not m["thread_ts"] or m["subtype"] == "thread_broadcast"
        ]
        return {**self._page(roots, args), "pin_count": 0}

    def conversations_replies(self, args: dict) -> dict:
        channel = self.state.channel(args.get("channel"))["id"]
        root = self.state.thread_root(channel, args.get("ts")) if args.get("ts") else None
        if root is None:
            raise ApiError("thread_not_found")
        return self._page([root, *self.state.replies(channel, root["ts"])], args)

    # ------------------------------------------------------------------ files

    def new_file(self, *, name: str, mimetype: str | None, content: bytes, user: str, title: str | None = None) -> dict:
        """Store a file record; it is downloadable once `uploaded`."""
        file_id = new_id("F")
        return self.state.add_file(
            {
                **self.file_urls(file_id, name),
                "id": file_id,
                "name": name,
                "title": title or name,
                "mimetype": mimetype or mimetypes.guess_type(name)[0] or "application/octet-stream",
                "bytes": content,
                "user": user,
                "created": int(time.time()),
                "uploaded": True,
                "channel": None,
                "thread_ts": None,
            }
        )

    def file_urls(self, file_id: str, name: str) -> dict:
        """A file's url_private and url_private_download, under `base_url()`."""
        base = f"{self.base_url()}/files-pri/{self.state.identity.team_id}-{file_id}"
        return {"url_private": f"{base}/{quote(name)}", "url_private_download": f"{base}/download/{quote(name)}"}

    def files_get_upload_url(self, args: dict) -> dict:
        filename = args.get("filename")
        try:
            length = int(args["length"])
        except (KeyError, TypeError, ValueError):
            raise ApiError("invalid_arguments") from None
        if not isinstance(filename, str) or not filename or length < 0:
            raise ApiError("invalid_arguments")
        if length > MAX_FILE_BYTES:
            raise ApiError("file_too_large")
        record = self.new_file(name=filename, mimetype=None, content=b"", user=self.state.identity.bot_user_id)
        record["uploaded"] = False
        key = secrets.token_urlsafe(18)
        self._uploads[key] = record["id"]
        return {"upload_url": f"{self.base_url()}/upload/v1/{key}", "file_id": record["id"]}

    async def handle_upload(self, request: web.Request) -> web.Response:
        """The upload URL: raw bytes (what files_upload_v2 sends) or a multipart body's file part."""
        record = self.state.files.get(self._uploads.get(request.match_info["key"], ""))
        if record is None:
            return web.Response(status=404, text="Not Found")
        content_type = request.content_type
        if content_type == "multipart/form-data":
            reader = await request.multipart()
            part = await reader.next()
            while part is not None and not getattr(part, "filename", None):
                part = await reader.next()
            if part is None:
                return web.Response(status=400, text="no file in the multipart body")
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            data = await read_limited(part, MAX_FILE_BYTES)
        else:
            data = await read_limited(request.content, MAX_FILE_BYTES)
        if data is None:
            return web.Response(status=413, text=f"file larger than {MAX_FILE_BYTES} bytes")
        del self._uploads[request.match_info["key"]]
        record["bytes"], record["uploaded"] = data, True
        if content_type and content_type not in ("application/octet-stream", "application/x-www-form-urlencoded"):
            record["mimetype"] = content_type
        self.state.file_touched(record)
        if self.after_change is not None:
            await self.after_change()
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    def files_complete_upload(self, args: dict) -> dict:
        entries = json_arg(args, "files", "invalid_arguments")
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
            raise ApiError("invalid_arguments")
        records = []
        for entry in entries:
            record = self.state.files.get(str(entry.get("id")))
            if record is None or not record["uploaded"]:
                raise ApiError("file_not_found")
            if entry.get("title"):
                record["title"] = str(entry["title"])
            self.state.file_touched(record)
            records.append(record)
        channel_arg = args.get("channel_id") or (str(args.get("channels") or "").split(",")[0] or None)
        if channel_arg:
            self._share(records, self.state.channel(channel_arg, for_posting=True)["id"], args)
        return {"files": [shapes.file(self.state, r) for r in records]}

    def _share(self, records: list[dict], channel: str, args: dict) -> None:
        thread_ts = self.thread(channel, args.get("thread_ts"))
        raw_blocks = json_arg(args, "blocks", "invalid_blocks_format")
        stored = self.post(
            channel,
            {
                "text": str(args.get("initial_comment") or ""),
                "blocks": shapes.blocks(raw_blocks) if raw_blocks else None,
                "subtype": "file_share",
                "files": records,
            },
            thread_ts=thread_ts,
        )
        for record in records:
            record.update(channel=channel, thread_ts=thread_ts, share_ts=stored["ts"])
            self.state.file_touched(record)

    def files_info(self, args: dict) -> dict:
        record = self.state.files.get(str(args.get("file") or ""))
        if record is None:
            raise ApiError("file_not_found")
        return {"file": shapes.file(self.state, record), "comments": [], "response_metadata": {"next_cursor": ""}}

    async def handle_download(self, request: web.Request) -> web.StreamResponse:
        """url_private: without the bot token Slack redirects to its sign-in page (HTML, 200)."""
        if not secrets.compare_digest(bearer(request), self.token):
            raise web.HTTPFound(f"{self.base_url()}/signin?redir={quote(request.path)}")
        record = self.state.files.get(request.match_info["owner"].split("-", 1)[-1])
        if record is None or not record["uploaded"] or record["name"] != request.match_info["name"]:
            return web.Response(status=404, text="File not found")
        return web.Response(
            body=record["bytes"],
            content_type=record["mimetype"],
            headers={"Content-Disposition": f'attachment; filename="{quote(record["name"])}"'},
        )

    async def handle_archive(self, request: web.Request) -> web.Response:
        """A message's archive link (`/archives/C…/p1700000000000100`, as auth.test's url + chat.getPermalink
        make them): the message and its thread as JSON."""
        channel, link = request.match_info["channel"], request.match_info["link"]
        digits = link[1:] if link.startswith("p") else ""
        message = None
        if digits.isdigit() and len(digits) > 6:
            message = self.state.message(channel, f"{digits[:-6]}.{digits[-6:]}")
        if message is None:
            return web.json_response({"ok": False, "error": "message_not_found"}, status=404)
        replies = self.state.replies(channel, message["ts"])
        return web.json_response({"ok": True, "channel": channel, "message": message, "replies": replies})

    async def handle_signin(self, request: web.Request) -> web.Response:
        return web.Response(text="<!DOCTYPE html><html><body>Sign in to Slack</body></html>", content_type="text/html")

    # ------------------------------------------------------------------ views

    def _trigger_user(self, args: dict) -> str:
        user = self.state.triggers.get(str(args.get("trigger_id") or ""))
        if user is None:
            raise ApiError("invalid_trigger_id")
        return user

    @staticmethod
    def _view_spec(args: dict) -> dict:
        spec = json_arg(args, "view", "invalid_arguments")
        if not isinstance(spec, dict) or spec.get("type") not in ("modal", "home"):
            raise ApiError("invalid_arguments")
        return spec

    def views_open(self, args: dict) -> dict:
        user, spec = self._trigger_user(args), self._view_spec(args)
        return {"view": self.state.open_view(user, shapes.view(self.state.identity, spec), push=False)}

    def views_push(self, args: dict) -> dict:
        user, spec = self._trigger_user(args), self._view_spec(args)
        return {"view": self.state.open_view(user, shapes.view(self.state.identity, spec), push=True)}

    def views_update(self, args: dict) -> dict:
        views = self.state.views
        view = views.get(str(args.get("view_id") or ""))
        if view is None and args.get("external_id"):
            view = next((v for v in views.values() if v["external_id"] == args["external_id"]), None)
        if view is None:
            raise ApiError("not_found")
        if args.get("hash") and args["hash"] != view["hash"]:
            raise ApiError("hash_conflict")
        return {"view": self.replace_view(view, self._view_spec(args))}

    def replace_view(self, view: dict, spec: dict) -> dict:
        """Put a new `spec` in an open view's place (views.update, or a submission's response_action)."""
        fresh = shapes.view(self.state.identity, spec, view_id=view["id"], previous=view)
        view.clear()
        view.update(fresh)
        self.state.on_change("view", user=self.state.view_user(view["id"]), action="update")
        return view
