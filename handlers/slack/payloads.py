"""The shape a signed Slack request must have before Bolt and the listeners see it.

Slack's own requests always pass; anything else (a JSON array, `event` as a string, a button click without
`user`, a NUL in a command) is refused here with a 400 naming the field, so listeners may read the fields they
use without checking each one. The body is read the way Bolt reads it (`slack_bolt.request.internals.parse_body`):
JSON when the Content-Type says so or it starts with "{", else a form whose `payload` field, if any, is JSON.

Payload formats: https://api.slack.com/apis/events-api (event_callback, url_verification),
https://api.slack.com/interactivity/slash-commands, https://api.slack.com/reference/interaction-payloads.
"""

from __future__ import annotations

from typing import Any

from bot.validation import InvalidInput, check_text, load_json, max_length, require_object
from handlers.common import parse_form
from storage.models import Conversation, Message, ProcessedEvent

MAX_BODY_BYTES = 1024 * 1024
MAX_COMMAND_TEXT = 4000
MAX_VALUE = 2000  # a button's value (Slack allows 2,000 characters)
# The longest Slack id we store: channels, users and message timestamps all go into String(32) columns.
ID_LENGTH = min(max_length(Conversation.channel), max_length(Conversation.last_agent), max_length(Message.slack_ts))
EVENT_ID_LENGTH = max_length(ProcessedEvent.key) - len("slack-event:")
PEOPLE_PAYLOADS = {"block_actions", "view_submission", "view_closed", "shortcut", "message_action"}


def check_request(raw: bytes, content_type: str) -> None:
    """Raise :class:`InvalidInput` unless `raw` is a Slack request the listeners can read."""
    if not raw:
        raise InvalidInput("body", "is empty")
    if content_type == "application/json" or raw.startswith(b"{"):
        check_json_body(load_json(raw, "body", max_bytes=MAX_BODY_BYTES))
        return
    form = parse_form(raw)
    for name, value in form.items():
        check_text(value, name)
    if "payload" in form:
        check_interaction(load_json(form["payload"], "payload", max_bytes=MAX_BODY_BYTES))
    elif "command" in form:
        check_command(form)
    elif "ssl_check" not in form:
        raise InvalidInput("body", "is neither an event, a slash command nor an interactivity payload")


def check_json_body(body: Any) -> None:
    """Events API bodies: `url_verification` and `event_callback`."""
    require_object(body, "body")
    kind = _string(body, "type", "body")
    if kind == "url_verification":
        _string(body, "challenge", "body")
    elif kind == "event_callback":
        _optional(body, "event_id", "body", EVENT_ID_LENGTH)
        check_event(require_object(body.get("event"), "event"))


def check_event(event: dict) -> None:
    """The fields of an event the listeners read (a message event's, for thread replies)."""
    _string(event, "type", "event")
    for name in ("channel", "user", "ts", "thread_ts", "subtype", "bot_id"):
        _optional(event, name, "event", ID_LENGTH if name != "subtype" else None)
    _optional(event, "text", "event")
    files = event.get("files")
    if files is not None:
        if not isinstance(files, list) or not all(isinstance(item, dict) for item in files):
            raise InvalidInput("event.files", "must be an array of objects")


def check_command(form: dict[str, str]) -> None:
    """A slash command's form fields."""
    for name in ("user_id", "channel_id"):
        if not form.get(name):
            raise InvalidInput(name, "is missing")
        check_text(form[name], name, limit=ID_LENGTH)
    check_text(form.get("text", ""), "text", limit=MAX_COMMAND_TEXT)


def check_interaction(payload: Any) -> None:
    """Interactivity payloads: button clicks (`block_actions`) and modal submissions (`view_submission`)."""
    require_object(payload, "payload")
    kind = _string(payload, "type", "payload")
    if kind in PEOPLE_PAYLOADS:
        user = require_object(payload.get("user"), "payload.user")
        _string(user, "id", "payload.user", ID_LENGTH)
    if payload.get("channel") is not None:
        _optional(require_object(payload["channel"], "payload.channel"), "id", "payload.channel", ID_LENGTH)
    _optional(payload, "response_url", "payload")
    if kind == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions:
            raise InvalidInput("payload.actions", "must be a non-empty array")
        for index, action in enumerate(actions):
            where = f"payload.actions[{index}]"
            _string(require_object(action, where), "action_id", where)
            _optional(action, "value", where, MAX_VALUE)
    if kind in ("view_submission", "view_closed"):
        check_view(require_object(payload.get("view"), "payload.view"))


def check_view(view: dict) -> None:
    """A submitted modal: its type, callback id, metadata and the state of its inputs."""
    for name in ("type", "callback_id"):
        _string(view, name, "payload.view")
    _optional(view, "private_metadata", "payload.view")
    state = view.get("state")
    if state is None:
        return
    values = require_object(require_object(state, "payload.view.state").get("values", {}), "payload.view.state.values")
    for block_id, block in values.items():
        for action_id, element in require_object(block, f"values.{block_id}").items():
            where = f"values.{block_id}.{action_id}"
            require_object(element, where)
            _optional(element, "value", where)
            if element.get("selected_option") is not None:
                _optional(require_object(element["selected_option"], where + ".selected_option"), "value", where)
            if element.get("files") is not None and not isinstance(element["files"], list):
                raise InvalidInput(where + ".files", "must be an array")


def _string(container: dict, name: str, where: str, limit: int | None = None) -> str:
    if name not in container:
        raise InvalidInput(f"{where}.{name}", "is missing")
    return check_text(container[name], f"{where}.{name}", limit=limit)


def _optional(container: dict, name: str, where: str, limit: int | None = None) -> None:
    if container.get(name) is not None:
        check_text(container[name], f"{where}.{name}", limit=limit)
