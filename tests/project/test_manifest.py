"""The Slack app manifest a user pastes: valid shape, the /sms command, the events used, least-privilege scopes."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "manifest.yml"


def load() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def test_manifest_declares_the_sms_command_and_interactivity():
    manifest = load()
    commands = manifest["features"]["slash_commands"]
    assert [c["command"] for c in commands] == ["/sms"]
    assert commands[0]["url"].endswith("/slack/events")
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["interactivity"]["request_url"].endswith("/slack/events")
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert "socket_mode_enabled" in settings
    assert manifest["features"]["bot_user"]["display_name"]


def test_manifest_subscribes_to_channel_messages_only():
    events = set(load()["settings"]["event_subscriptions"]["bot_events"])
    assert events == {"message.channels", "message.groups"}


def test_manifest_asks_for_exactly_the_scopes_the_bot_uses():
    scopes = set(load()["oauth_config"]["scopes"]["bot"])
    assert scopes == {
        "channels:history",
        "groups:history",
        "chat:write",
        "commands",
        "reactions:write",
        "files:read",
        "files:write",
        "users:read",
    }
    assert not any(s.startswith(("admin", "im:", "mpim:")) or s.endswith(":write.public") for s in scopes)


# Scopes a bot token needs, per Slack's method and event reference (https://docs.slack.dev/reference/methods/<m>,
# .../reference/events/<e>). Methods needing none (auth.test, views.*) map to an empty set. For the history
# methods Slack asks for "the relevant *:history scope": the bridge reads public and private line channels.
METHOD_SCOPES: dict[str, set[str]] = {
    "auth.test": set(),
    "chat.postMessage": {"chat:write"},
    "chat.update": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "chat.delete": {"chat:write"},
    "conversations.history": {"channels:history", "groups:history"},
    "conversations.replies": {"channels:history", "groups:history"},
    "conversations.info": {"channels:read", "groups:read"},
    "reactions.add": {"reactions:write"},
    "reactions.remove": {"reactions:write"},
    "users.info": {"users:read"},
    "files.getUploadURLExternal": {"files:write"},
    "files.completeUploadExternal": {"files:write"},
    "files.info": {"files:read"},
    "views.open": set(),
    "views.update": set(),
    "views.push": set(),
}
# slack_sdk helpers that are several Web API calls.
SDK_HELPERS = {"files_upload_v2": {"files.getUploadURLExternal", "files.completeUploadExternal"}}
EVENT_SCOPES = {"message.channels": {"channels:history"}, "message.groups": {"groups:history"}}
# The bot listens to `message` events in its line channels, public and private.
LISTENED_EVENTS = {"message": {"message.channels", "message.groups"}}
CALL = re.compile(r"\b(?:slack|client)\.((?:chat|conversations|users|reactions|files|views|auth|apps|team)_\w+)\(")
LISTENER = re.compile(r"\.event\(\s*[\"'](\w+)[\"']")


def _code() -> str:
    files = [p for d in ("bot", "handlers") for p in (ROOT / d).rglob("*.py") if "local" not in p.parts]
    return "\n".join(p.read_text() for p in files)


def called_methods(code: str) -> set[str]:
    methods = set()
    for name in CALL.findall(code):
        methods |= SDK_HELPERS.get(name) or {name.replace("_", ".", 1)}
    return methods


def needed_scopes(code: str) -> set[str]:
    scopes = {"commands"} if load()["features"].get("slash_commands") else set()
    for method in called_methods(code):
        assert method in METHOD_SCOPES, f"the bot calls {method}: add its scopes from Slack's reference here"
        scopes |= METHOD_SCOPES[method]
    if "url_private" in code:
        scopes.add(
            "files:read"
        )  # downloading a file people shared (https://docs.slack.dev/reference/scopes/files.read)
    for event in load()["settings"]["event_subscriptions"]["bot_events"]:
        scopes |= EVENT_SCOPES.get(event, set())
    return scopes


def test_every_method_the_bot_calls_is_covered_by_a_declared_scope_and_no_scope_is_unused():
    code = _code()
    assert {"chat.postMessage", "users.info", "files.completeUploadExternal"} <= called_methods(code)
    declared, needed = set(load()["oauth_config"]["scopes"]["bot"]), needed_scopes(code)
    assert needed - declared == set(), f"scopes the code needs that the manifest lacks: {needed - declared}"
    assert declared - needed == set(), f"scopes the manifest asks for that nothing uses: {declared - needed}"


def test_every_event_the_bot_listens_to_is_subscribed():
    listened = set(LISTENER.findall(_code()))
    assert listened, "no event listeners found: the pattern no longer matches handlers/slack"
    subscribed = set(load()["settings"]["event_subscriptions"]["bot_events"])
    for event in listened:
        assert event in LISTENED_EVENTS, f"the bot listens to {event!r}: say which subscriptions deliver it"
        assert LISTENED_EVENTS[event] <= subscribed, f"{event!r} is listened to but not subscribed"
