"""The Slack app manifest a user pastes: valid shape, the /sms command, the events used, least-privilege scopes."""

from __future__ import annotations

from pathlib import Path

import yaml

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


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
