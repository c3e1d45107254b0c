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

from bot import limits
from bot.validation import InvalidInput, check_text, load_json, require_object
from handlers.common import parse_form

MAX_BODY_BYTES = 1024 * 1024
MAX_COMMAND_TEXT = 4000
MAX_VALUE = 2000  # a button's value (Slack allows 2,000 characters)
PEOPLE_PAYLOADS = {"block_actions", "view_submission", "view_closed", "shortcut", "message_action"}
# Fields Bolt itself reads (to route a request and find its team, user and channel) before any listener runs,
# with the types Slack gives them, wherever they appear: in the body, an interaction payload or an event.
OBJECTS = ("event", "view", "message", "previous_message", "container", "item", "assistant_thread", "function_data")
OBJECTS_OR_IDS = ("team", "enterprise", "user", "channel")
ARRAYS_OF_OBJECTS = ("authorizations", "actions", "files")
STRINGS = (
    "type",
    "subtype",
    "team_id",
    "enterprise_id",
    "user_id",
    "channel_id",
    "api_app_id",
    "callback_id",
    "trigger_id",
    "bot_id",
    "user_team",
    "ts",
    "thread_ts",
    "text",
)
BOOLEANS = ("is_ext_shared_channel", "is_enterprise_install")


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


def check_envelope(container: dict, where: str) -> None:
    """The fields Bolt reads have Slack's types (see OBJECTS and the rest), here and in nested events and
    messages; Bolt's own code assumes them and fails with a 500 otherwise."""
    for name, value in container.items():
        field = f"{where}.{name}"
        if value is None and name == "event":  # Bolt reads body.get("event", {}).get(...): null is a 500
            raise InvalidInput(field, "must be an object")
        if value is None:
            continue
        if name in OBJECTS:
            require_object(value, field)
            if name in ("event", "message", "previous_message"):
                check_envelope(value, field)
        elif name in OBJECTS_OR_IDS and not isinstance(value, str):
            _optional(require_object(value, field), "id", field, limits.SLACK_ID)
            _optional(value, "team_id", field, limits.SLACK_ID)
        elif name in ARRAYS_OF_OBJECTS:
            if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
                raise InvalidInput(field, "must be an array of objects")
            if name == "authorizations":
                for index, item in enumerate(value):
                    check_envelope(item, f"{field}[{index}]")
        elif name in STRINGS:
            check_text(value, field)
        elif name in BOOLEANS and not isinstance(value, bool):
            raise InvalidInput(field, "must be true or false")


def check_json_body(body: Any) -> None:
    """Events API bodies: `url_verification` and `event_callback`."""
    check_envelope(require_object(body, "body"), "body")
    kind = _string(body, "type", "body")
    if kind == "url_verification":
        _string(body, "challenge", "body")
    elif kind == "event_callback":
        _optional(body, "event_id", "body", limits.SLACK_EVENT_ID)
        check_event(require_object(body.get("event"), "event"))


def check_event(event: dict) -> None:
    """The fields of a message event the listeners read (thread replies become texts); other events only
    need the envelope's types."""
    if _string(event, "type", "event") != "message":
        return
    for name in ("channel", "user", "ts", "thread_ts", "subtype", "bot_id"):
        _optional(event, name, "event", limits.SLACK_ID if name != "subtype" else None)
    _optional(event, "text", "event")


def check_command(form: dict[str, str]) -> None:
    """A slash command's form fields."""
    for name in ("user_id", "channel_id"):
        if not form.get(name):
            raise InvalidInput(name, "is missing")
        check_text(form[name], name, limit=limits.SLACK_ID)
    check_text(form.get("text", ""), "text", limit=MAX_COMMAND_TEXT)


def check_interaction(payload: Any) -> None:
    """Interactivity payloads: button clicks (`block_actions`) and modal submissions (`view_submission`)."""
    check_envelope(require_object(payload, "payload"), "payload")
    kind = _string(payload, "type", "payload")
    if kind in PEOPLE_PAYLOADS:
        user = require_object(payload.get("user"), "payload.user")
        _string(user, "id", "payload.user", limits.SLACK_ID)
    if payload.get("channel") is not None:
        _optional(require_object(payload["channel"], "payload.channel"), "id", "payload.channel", limits.SLACK_ID)
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
