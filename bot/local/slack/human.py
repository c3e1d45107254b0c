"""The human side of the workspace: what a person does in Slack (post, run ``/sms``, click a button, submit a
modal), each becoming the request Slack would send the app, and what Slack does with the app's answers
(a command's acknowledgement, a POST to a response URL, a submission's ``response_action``).

HTTP, under the prefix: ``POST /say``, ``/command``, ``/action``, ``/view_submission`` (JSON bodies, 400 with
the reason for a bad one, 502 when the app does not answer), and ``POST /response/{key}`` (response URLs).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import logging
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.local.json_body import BadRequest, read_limited, read_object
from bot.local.slack import shapes
from bot.local.slack.delivery import AppUnreachable, Delivery, decode
from bot.local.slack.state import ApiError, WorkspaceState, is_user_id, new_id
from bot.local.slack.web_api import WebApi, truthy

log = logging.getLogger(__name__)

MAX_JSON_BYTES = 256 * 1024  # human-side requests
MAX_SAY_BYTES = 8 * 1024 * 1024  # `say` may carry files (base64)
MAX_FILE_BYTES = 10 * 1024 * 1024  # one file a person shares


def escape(text: str) -> str:
    """Slack delivers what people type with &, < and > escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_AT_NAME = re.compile(r"(?<![\w@<|])@([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_-])?)")
_HASH_NAME = re.compile(r"(?<![\w#<|&])#([a-z0-9][a-z0-9_-]*)")


def escaped_command_text(state: Any, text: str) -> str:
    """A slash command's text as Slack sends it with `should_escape: true`: `&`, `<` and `>` escaped, and each
    `@name` of a member and `#name` of a channel turned into `<@U…|name>` / `<#C…|name>` (what the Slack client
    does when a person picks them from its lists). An unknown `@name` stays plain text, as in Slack."""
    members: dict[str, dict] = {}
    for member in state.users.values():
        for key in (member.get("name"), (member.get("profile") or {}).get("display_name")):
            if key:
                members.setdefault(key.lower(), member)
    channels = {c["name"].lower(): c for c in state.channels.values() if c.get("name")}

    def user(match: re.Match) -> str:
        found = members.get(match.group(1).lower())
        return f"<@{found['id']}|{found['name']}>" if found else match.group(0)

    def channel(match: re.Match) -> str:
        found = channels.get(match.group(1).lower())
        return f"<#{found['id']}|{found['name']}>" if found else match.group(0)

    return _HASH_NAME.sub(channel, _AT_NAME.sub(user, escape(text)))


def rich_text(text: str) -> list[dict]:
    """The blocks Slack attaches to a message a person typed."""
    return [
        {
            "type": "rich_text",
            "block_id": secrets.token_urlsafe(4),
            "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
        }
    ]


def find_element(blocks: list[dict], action_id: str, block_id: str | None) -> tuple[str | None, dict | None]:
    """The interactive element with `action_id` (in `block_id` when given), and the block it is in."""
    for block in blocks:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        candidates = list(block.get("elements") or []) + ([block["accessory"]] if block.get("accessory") else [])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block.get("block_id"), element
    return block_id, None


class ResponseUrls:
    """Response URLs: what the app POSTs there is shown as Slack shows it."""

    def __init__(self, state: WorkspaceState, api: WebApi, after_change: Callable[[], Awaitable[None]] | None):
        self.state = state
        self.api = api
        self.after_change = after_change

    def new(self, context: dict) -> str:
        """A response URL for answers in `context` ({"user", "channel", optional "message_ts", "thread_ts",
        "ephemeral"})."""
        return f"{self.api.base_url()}/response/{self.state.new_response_url(context)}"

    async def handle(self, request: web.Request) -> web.Response:
        context = self.state.response_urls.get(request.match_info["key"])
        if context is None:
            return web.json_response({"ok": False, "error": "expired_url"}, status=404)
        data = await read_limited(request.content, MAX_JSON_BYTES)
        try:
            answer = json.loads(data) if data else None
        except (ValueError, UnicodeDecodeError):
            answer = None
        if not isinstance(answer, dict):
            return web.json_response({"ok": False, "error": "invalid_payload"}, status=400)
        self.state.add_response(context, answer)
        self.show(answer, context)
        if self.after_change is not None:
            await self.after_change()
        return web.json_response({"ok": True})

    def show(self, answer: dict, context: dict) -> None:
        """What Slack does with a command's acknowledgement body or a POST to a response URL."""
        user, channel = context.get("user"), context["channel"]
        original = None if context.get("ephemeral") else self.state.message(channel, context.get("message_ts", ""))
        own = next(
            (e for e in self.state.ephemerals if e["user"] == user and e["message_ts"] == context.get("message_ts")),
            None,
        )
        if truthy(answer.get("delete_original")):
            if original is not None:
                self.state.delete_message(original)
            elif own is not None:
                self.state.remove_ephemeral(own)
            return
        try:
            content = self.api.content(answer)
        except ApiError:
            return  # nothing to show (an empty acknowledgement, say)
        thread_ts = answer.get("thread_ts") or context.get("thread_ts")
        if truthy(answer.get("replace_original")) and original is not None:
            original.update(content)
            self.state.touched(original)
        elif truthy(answer.get("replace_original")) and own is not None:
            own.update(content)
            self.state.on_change("ephemeral", user=user)
        elif answer.get("response_type") == "in_channel":
            self.api.post(channel, content, thread_ts=thread_ts)
        elif user:
            self.state.add_ephemeral({"channel": channel, "user": user, **content, "thread_ts": thread_ts})


class Human:
    """People of the workspace acting, as the playground's page (or a test) asks. `app_url()` is the app's
    request URL."""

    def __init__(
        self,
        state: WorkspaceState,
        api: WebApi,
        delivery: Delivery,
        responses: ResponseUrls,
        *,
        app_url: Callable[[], str],
        after_change: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.state = state
        self.api = api
        self.delivery = delivery
        self.responses = responses
        self.app_url = app_url
        self.after_change = after_change

    def mount(self, app: web.Application, prefix: str) -> None:
        app.router.add_post(prefix + "/say", self._handle_say)
        app.router.add_post(prefix + "/command", self._handle_command)
        app.router.add_post(prefix + "/action", self._handle_action)
        app.router.add_post(prefix + "/view_submission", self._handle_view_submission)

    # ------------------------------------------------------------------ people and places

    def person(self, user_id: Any) -> dict:
        """A person acting; unknown but well-formed IDs join the workspace."""
        if not is_user_id(user_id) or len(user_id) < 3:
            raise BadRequest(f"user must be a Slack user ID like U0ALICE, not {user_id!r}")
        if user_id not in self.state.users:
            name = user_id[1:].lower()
            self.state.add_user(user_id, real_name=name.title(), name=name, display_name=name)
        return self.state.users[user_id]

    def channel(self, channel_id: Any) -> dict:
        try:
            return self.state.channel(channel_id)
        except ApiError as exc:
            raise BadRequest(exc.error.replace("_", " ")) from None

    def actor(self, person: dict) -> dict:
        return {"id": person["id"], "username": person["name"], "name": person["name"], "team_id": person["team_id"]}

    async def _changed(self) -> None:
        if self.after_change is not None:
            await self.after_change()

    async def _interaction(self, payload: dict) -> tuple[int, Any]:
        status, text = await self.delivery.interaction(self.app_url(), payload)
        return status, decode(text)

    # ------------------------------------------------------------------ what a person does

    async def say(
        self, channel: str, user: str, text: str, thread_ts: str | None = None, files: list[dict] | None = None
    ) -> dict:
        """A person posts in a channel (or a thread). Returns the stored message and the app's HTTP status.

        `files` items: {"name": ..., "mimetype": optional, "content_base64": ... or "text": ...}."""
        person = self.person(user)
        target = self.channel(channel)["id"]
        thread = None
        if thread_ts:
            root = self.state.thread_root(target, thread_ts)
            if root is None:
                raise BadRequest("thread not found")
            thread = root["ts"]
        shared = [self._file(person["id"], item) for item in files or []]
        stored = self.state.add_message(
            target,
            {
                "user": person["id"],
                "text": escape(text),
                "blocks": rich_text(text) if text else [],
                "thread_ts": thread,
                "subtype": "file_share" if shared else None,
                "files": shared,
                "client_msg_id": str(uuid.uuid4()),
                "event_id": new_id("Ev"),
            },
        )
        for record in shared:
            record.update(channel=target, thread_ts=thread, share_ts=stored["ts"])
        await self._changed()
        event = shapes.message_event(self.state, stored)
        status = await self.delivery.event_with_retries(self.app_url(), event, event_id=stored["event_id"])
        if status is None:
            raise AppUnreachable(f"the app at {self.app_url()} did not answer (Slack will retry the event)")
        return {
            "ok": True,
            "channel": target,
            "ts": stored["ts"],
            "message": shapes.message(self.state, stored),
            "bot_status": status,
        }

    def _file(self, user: str, item: Any) -> dict:
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
        title = str(item.get("title") or item["name"])
        return self.api.new_file(name=item["name"], mimetype=item.get("mimetype"), content=data, user=user, title=title)

    async def command(self, channel: str, user: str, text: str, command: str = "/sms") -> dict:
        """A person runs a slash command. Returns {"status", "response"}: the app's acknowledgement body."""
        person = self.person(user)
        target = self.channel(channel)
        identity = self.state.identity
        form = {
            "token": identity.verification_token,
            "team_id": identity.team_id,
            "team_domain": identity.team_domain,
            "channel_id": target["id"],
            "channel_name": target["name"],
            "user_id": person["id"],
            "user_name": person["name"],
            "command": command,
            "text": escaped_command_text(self.state, text),
            "api_app_id": identity.app_id,
            "is_enterprise_install": "false",
            "response_url": self.responses.new({"user": person["id"], "channel": target["id"]}),
            "trigger_id": self.state.new_trigger(person["id"]),
        }
        status, body = await self.delivery.command(self.app_url(), form)
        answer = decode(body)
        if status == 200 and isinstance(answer, dict):
            self.responses.show(answer, {"user": person["id"], "channel": target["id"]})
            await self._changed()
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
        person = self.person(user)
        target = self.channel(channel)
        message = self.state.message(target["id"], message_ts)
        ephemeral = None
        if message is None:
            ephemeral = next(
                (
                    e
                    for e in self.state.ephemerals
                    if e["user"] == person["id"] and e["message_ts"] == message_ts and e["channel"] == target["id"]
                ),
                None,
            )
            if ephemeral is None:
                raise BadRequest(f"no message {message_ts!r} in {target['id']} that {person['id']} can see")
            shown = ephemeral
        else:
            shown = message
        found_block, element = find_element(shown.get("blocks") or [], action_id, block_id)
        if element is None:
            raise BadRequest(f"message {message_ts} has no element with action_id {action_id!r}")
        clicked: dict[str, Any] = {
            "type": element.get("type", "button"),
            "action_id": action_id,
            "block_id": found_block,
            "action_ts": self.state.next_ts(),
        }
        if "text" in element:
            clicked["text"] = element["text"]
        if value is not None or "value" in element:
            clicked["value"] = value if value is not None else element["value"]
        is_ephemeral = ephemeral is not None
        where = {"message_ts": message_ts, "channel_id": target["id"]}
        container = {"type": "message", **where, "is_ephemeral": is_ephemeral}
        context = {"user": person["id"], "channel": target["id"], "message_ts": message_ts, "ephemeral": is_ephemeral}
        if shown.get("thread_ts"):
            container["thread_ts"] = context["thread_ts"] = shown["thread_ts"]
        identity = self.state.identity
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self.actor(person),
            "api_app_id": identity.app_id,
            "token": identity.verification_token,
            "container": container,
            "trigger_id": self.state.new_trigger(person["id"]),
            "team": {"id": identity.team_id, "domain": identity.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": target["id"], "name": target["name"]},
            "state": {"values": {}},
            "response_url": self.responses.new(context),
            "actions": [clicked],
        }
        if message is not None:
            payload["message"] = shapes.message(self.state, message, metadata=False)
        status, answer = await self._interaction(payload)
        return {"status": status, "response": answer}

    async def submit_view(self, user: str, view_id: str, values: dict) -> dict:
        """A person submits the modal they have open. `values` is Slack's `view.state.values`
        ({block_id: {action_id: {"type": ..., "value": ...}}}); a plain string stands for a text input's value."""
        person = self.person(user)
        if view_id not in self.state.view_stacks.get(person["id"], []):
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
        view = self.state.views[view_id]
        view["state"] = {"values": state}
        identity = self.state.identity
        payload = {
            "type": "view_submission",
            "team": {"id": identity.team_id, "domain": identity.team_domain},
            "user": self.actor(person),
            "api_app_id": identity.app_id,
            "token": identity.verification_token,
            "trigger_id": self.state.new_trigger(person["id"]),
            "view": copy.deepcopy(view),
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        status, answer = await self._interaction(payload)
        if status == 200:
            self._response_action(person["id"], view, answer if isinstance(answer, dict) else {})
        return {"status": status, "response": answer}

    def _response_action(self, user: str, view: dict, answer: dict) -> None:
        action = answer.get("response_action")
        try:
            if action == "errors":
                return  # the modal stays open; the errors are shown next to the inputs
            if action == "update" and isinstance(answer.get("view"), dict):
                self.api.replace_view(view, answer["view"])
            elif action == "push" and isinstance(answer.get("view"), dict):
                self.state.open_view(user, shapes.view(self.state.identity, answer["view"]), push=True)
            elif action == "clear":
                self.state.close_views(user)
            else:
                self.state.close_views(user, only_top=True)
        except ApiError as exc:
            log.warning("slack emulator: the app answered a view submission with an unusable view: %s", exc.error)

    # ------------------------------------------------------------------ HTTP

    @staticmethod
    def _field(body: dict, name: str, *, required: bool = True, kind: type = str) -> Any:
        value = body.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, kind) or (kind is str and required and not value):
            kinds: dict[type, str] = {str: "a non-empty string", dict: "an object", list: "a list"}
            what = kinds.get(kind, kind.__name__)
            raise BadRequest(f"field {name!r} must be {what}" if name in body else f"field {name!r} is required")
        return value

    async def _human(self, request: web.Request, limit: int, run: Callable[[dict], Any]) -> web.Response:
        try:
            result = await run(await read_object(request, limit))
        except BadRequest as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        except AppUnreachable as exc:
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
