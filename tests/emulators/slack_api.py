"""The Slack workspace emulator (bot/local/slack) on a loopback port, for the tests: fault injection (429 with
Retry-After, 5xx, timeouts, dropped connections, a per-channel posting limit) and the conveniences the suite
uses to drive the app and to assert on what reached Slack.

Point slack_sdk's ``AsyncWebClient(base_url=emulator.url)`` at it; drive the app with ``send_event`` /
``user_message`` / ``send_command`` / ``send_action``, which sign requests the way Slack does. The workspace's
records (``messages``, ``files``, ``views``, ...; shapes in bot/local/slack/state.py) are public for assertions.
"""

from __future__ import annotations

import collections
import json
import os
import secrets
import time
import uuid
from typing import Any

import aiohttp
from aiohttp import web

from bot.local.slack import shapes
from bot.local.slack.delivery import Delivery
from bot.local.slack.human import ResponseUrls, rich_text
from bot.local.slack.state import ApiError, Identity, WorkspaceState, new_id
from bot.local.slack.web_api import WebApi, api_args, json_arg
from tests.support import block_kit

from ._base import Fault, LoopbackServer

BLOCK_METHODS = ("chat.postMessage", "chat.update", "chat.postEphemeral", "files.completeUploadExternal")
VIEW_METHODS = ("views.open", "views.update", "views.push")


class _CheckedResponseUrls(ResponseUrls):
    """Response URLs whose answers are checked as Block Kit before they are shown."""

    def __init__(self, emulator: SlackEmulator, *args: Any) -> None:
        super().__init__(*args)
        self.emulator = emulator

    def show(self, answer: dict, context: dict) -> None:
        self.emulator._check_answer("response_url", answer)
        super().show(answer, context)


class _CheckedDelivery(Delivery):
    """Deliveries whose answers (a command's message, a submission's view) are checked as Block Kit."""

    def __init__(self, emulator: SlackEmulator, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.emulator = emulator

    async def post(self, kind: str, url: str, body: str, content_type: str, **overrides: Any) -> tuple[int, str]:
        status, text = await super().post(kind, url, body, content_type, **overrides)
        if kind in ("command", "action") and status == 200 and text.startswith("{"):
            try:
                self.emulator._check_answer(f"{kind} acknowledgement", json.loads(text))
            except ValueError:
                pass
        return status, text


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
        self.calls: list[tuple[str, dict]] = []

        identity = Identity(
            team_id=team_id,
            team_name="Test Team",
            team_domain=team_domain,
            app_id=app_id,
            bot_id=bot_id,
            bot_user_id=bot_user_id,
            verification_token="verification-token",
        )
        self.workspace = WorkspaceState(identity)
        self.api = WebApi(self.workspace, token=bot_token, base_url=lambda: self.root)
        self.delivery = _CheckedDelivery(
            self, self.workspace, signing_secret=signing_secret, timeout=aiohttp.ClientTimeout(total=10)
        )
        self.response_urls = _CheckedResponseUrls(self, self.workspace, self.api, None)
        self._recent_posts: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        post_message = self.api.methods["chat.postMessage"]
        self.api.methods["chat.postMessage"] = lambda args: self._check_rate(args) or post_message(args)
        # Block Kit, checked with slack_sdk's models (tests/support/block_kit.py): what Slack would refuse is
        # refused as Slack does, and kept here; the `slack` fixture fails the test naming each one.
        self.block_kit_violations: list[str] = []
        for method in (*BLOCK_METHODS, *VIEW_METHODS):
            self.api.methods[method] = self._block_kit_checked(method, self.api.methods[method])

    # ------------------------------------------------------------------ the workspace's records

    @property
    def messages(self) -> dict[str, list[dict]]:
        """channel -> its messages (roots and replies), oldest first."""
        return self.workspace.messages

    @property
    def ephemerals(self) -> list[dict]:
        return self.workspace.ephemerals

    @property
    def files(self) -> dict[str, dict]:
        return self.workspace.files

    @property
    def users(self) -> dict[str, dict]:
        return self.workspace.users

    @property
    def channels(self) -> dict[str, dict]:
        return self.workspace.channels

    @property
    def views(self) -> dict[str, dict]:
        return self.workspace.views

    @property
    def deliveries(self) -> list[dict]:
        """Every request sent to the app: kind, url, status, body."""
        return self.delivery.deliveries

    @property
    def response_url_posts(self) -> list[dict]:
        """What the app POSTed to response URLs, in order."""
        return [response["body"] for response in self.workspace.responses]

    # ------------------------------------------------------------------ setup

    def _base_url(self, host: str, port: int) -> str:
        self.root = f"http://{host}:{port}"
        return f"{self.root}/api/"

    def _add_routes(self, app: web.Application) -> None:
        self.api.mount(app, "")
        app.router.add_post("/response/{key}", self.response_urls.handle)

    async def stop(self) -> None:
        await self.delivery.close()
        await super().stop()

    def fail(self, kind: str, seconds: float, *, retry_after: int = 1, methods: set[str] | None = None) -> None:
        """For `seconds` from now, answer matching calls with a fault instead of normally.

        kind: "429" (ratelimited + Retry-After), "500"/"503" (plain-text server error),
        "timeout" (hold the request unanswered until the window ends, then drop it),
        "down" (close the connection without a response), "late" (carry the call out at once, answer it
        only when the window ends).
        methods: Web API method names (e.g. {"chat.postMessage"}); also "upload", "files-pri",
        "response" for the upload URL, file downloads and response URLs. None = everything.
        """
        self._add_fault(kind, seconds, retry_after, methods)

    def add_user(
        self, user_id: str, *, real_name: str, phone: str = "", tz: str = "America/New_York", **profile: Any
    ) -> dict:
        """Register a workspace member; returns the users.info "user" object."""
        return self.workspace.add_user(user_id, real_name=real_name, phone=phone, tz=tz, **profile)

    def add_channel(
        self, channel_id: str, *, name: str | None = None, is_member: bool = True, is_archived: bool = False
    ) -> dict:
        """Register a channel explicitly (unknown C/G/D ids are created on first use)."""
        return self.workspace.add_channel(channel_id, name=name, is_member=is_member, is_archived=is_archived)

    # ------------------------------------------------------------------ assertions

    def roots(self, channel: str) -> list[dict]:
        """Top-level messages of `channel` (thread broadcasts included), oldest first."""
        return [
            m for m in self.messages.get(channel, []) if m["thread_ts"] is None or m["subtype"] == "thread_broadcast"
        ]

    def thread(self, channel: str, thread_ts: str) -> list[dict]:
        """Replies in the thread rooted at `thread_ts`, excluding the root, oldest first."""
        return self.workspace.replies(channel, thread_ts)

    def message(self, channel: str, ts: str) -> dict | None:
        """The stored message with this ts, or None."""
        return self.workspace.message(channel, ts)

    def method_calls(self, method: str) -> list[dict]:
        """Params of every call to `method`, in order."""
        return [params for name, params in self.calls if name == method]

    def _state_summary(self) -> str:
        counts = {channel: len(msgs) for channel, msgs in self.messages.items()}
        recent = [name for name, _ in self.calls[-10:]]
        return f"messages per channel={counts}, last calls={recent}, faults={dict(self.faults_injected)}"

    # ------------------------------------------------------------------ Block Kit

    def _violation(self, origin: str, problems: list[str]) -> None:
        test = os.environ.get("PYTEST_CURRENT_TEST", "outside a test").rsplit(" (", 1)[0]
        self.block_kit_violations.append(f"{origin} in {test}: " + "; ".join(problems))

    def _block_kit_checked(self, method: str, implementation):
        def checked(args: dict) -> dict:
            if method in VIEW_METHODS:
                problems = block_kit.view_problems(json_arg(args, "view", "invalid_arguments"))
                error = "invalid_arguments"
            else:
                raw = json_arg(args, "blocks", "invalid_blocks_format")
                problems = [] if raw is None else block_kit.message_problems(raw)
                error = "invalid_blocks"
            if problems:
                self._violation(method, problems)
                raise ApiError(error, errors=problems, response_metadata={"messages": problems})
            return implementation(args)

        return checked

    def _check_answer(self, origin: str, answer: object) -> None:
        """A response URL answer, or an acknowledgement's body (a command's message, a submission's view)."""
        if not isinstance(answer, dict):
            return
        if answer.get("blocks") is not None:
            problems = block_kit.message_problems(answer["blocks"])
            if problems:
                self._violation(origin, problems)
        if isinstance(answer.get("view"), dict):
            problems = block_kit.view_problems(answer["view"])
            if problems:
                self._violation(f"{origin} response_action", problems)

    # ------------------------------------------------------------------ faults

    async def _record_request(self, request: web.Request) -> None:
        if request.path.startswith("/api/"):
            try:
                params = await api_args(request)
            except Exception:  # an unreadable body is answered by the Web API itself
                params = {}
            self.calls.append((request.match_info.get("method", ""), params))

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

    def _check_rate(self, args: dict) -> None:
        """Slack allows about `rate` posts per second per channel, with short bursts tolerated; a sliding window
        of max(1, 1/rate) seconds holding at most max(1, rate) posts models that."""
        rate = self.channel_rate_per_sec
        if rate is None:
            return
        channel = str(args.get("channel"))
        window, allowed = max(1.0, 1.0 / rate), max(1, int(rate))
        recent, now = self._recent_posts[channel], time.monotonic()
        while recent and now - recent[0] >= window:
            recent.popleft()
        if len(recent) >= allowed:
            self.faults_injected["channel_rate"] += 1
            raise web.HTTPTooManyRequests(
                text='{"ok": false, "error": "ratelimited"}',
                content_type="application/json",
                headers={"Retry-After": "1"},
            )
        recent.append(now)

    # ------------------------------------------------------------------ deliveries to the app

    def event_envelope(self, event: dict, *, event_id: str | None = None) -> dict:
        """The Events API `event_callback` envelope Slack wraps around `event`."""
        return self.delivery.envelope(event, event_id=event_id)

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
        return await self.delivery.event(
            app_url, event, event_id=event_id, retry_num=retry_num, timestamp=timestamp, signature=signature
        )

    def add_file(self, *, name: str, mimetype: str, content: bytes, user: str = "U0HUMAN") -> dict:
        """Register a file a person uploaded; returns the file object to pass to user_message()."""
        if not self.root:
            raise RuntimeError("start() the SlackEmulator before registering files")
        return shapes.file(self.workspace, self.api.new_file(name=name, mimetype=mimetype, content=content, user=user))

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
        self.channels.get(channel) or self.add_channel(channel)
        message = self.workspace.add_message(
            channel,
            {
                "text": text,
                "blocks": rich_text(text) if text else None,
                "thread_ts": thread_ts,
                "user": user,
                "client_msg_id": str(uuid.uuid4()),
                "files": records,
                "subtype": "file_share" if records else None,
                "event_id": new_id("Ev"),
            },
        )
        for record in records:
            record.update(channel=channel, thread_ts=thread_ts, share_ts=message["ts"])
        return message

    async def deliver_message_event(
        self, app_url: str, message: dict, *, retry_num: int | None = None
    ) -> tuple[int, str]:
        """Deliver the `message` event of a message from user_posts(); pass retry_num for Slack's retries of an
        event the app did not acknowledge (same event_id, X-Slack-Retry-Num). Returns (status, body)."""
        event = shapes.message_event(self.workspace, message)
        message["delivery"] = await self.send_event(app_url, event, event_id=message["event_id"], retry_num=retry_num)
        return message["delivery"]

    async def send_command(self, app_url: str, **fields: Any) -> tuple[int, str]:
        """POST a slash command (`command_fields`), form-encoded and signed like Slack; returns (status, body)."""
        return await self.delivery.command(app_url, self.command_fields(**fields))

    def command_fields(
        self,
        *,
        text: str,
        user_id: str,
        channel_id: str,
        command: str = "/sms",
        trigger_id: str | None = None,
        **overrides: Any,
    ) -> dict[str, str]:
        """A slash command's fields as Slack sends them (its response_url answers in the workspace)."""
        channel = self.channels.get(channel_id)
        user = self.users.get(user_id)
        fields = {
            "token": "verification-token",
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel["name"]
            if channel
            else ("directmessage" if channel_id.startswith("D") else "general"),
            "user_id": user_id,
            "user_name": user["name"] if user else user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": self.response_urls.new({"user": user_id, "channel": channel_id}),
            "trigger_id": trigger_id
            or f"{secrets.randbelow(10**10)}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}",
        }
        fields.update({k: str(v) for k, v in overrides.items()})
        return fields

    async def send_action(
        self, app_url: str, payload: dict, *, timestamp: int | None = None, signature: str | None = None
    ) -> tuple[int, str]:
        """POST an interactivity payload (form field `payload` = JSON), signed; returns (status, body).

        Missing envelope fields (token, api_app_id, team, is_enterprise_install) are filled in.
        """
        return await self.delivery.interaction(
            app_url, self.action_payload(payload), timestamp=timestamp, signature=signature
        )

    def action_payload(self, payload: dict) -> dict:
        """An interactivity payload with Slack's envelope fields filled in where missing."""
        return {
            "token": "verification-token",
            "api_app_id": self.app_id,
            "team": {"id": self.team_id, "domain": self.team_domain},
            "is_enterprise_install": False,
            **payload,
        }
