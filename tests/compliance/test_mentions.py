"""The one parser of users and channels in command text (should_escape: true), and ledger text shown in Slack."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.slack import mentions

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "text, user",
    [("<@U0ALICE|alice>", "U0ALICE"), ("<@U0ALICE>", "U0ALICE"), (" U0ALICE ", "U0ALICE"), ("<@W0BOB|bob>", "W0BOB")],
)
def test_users(text, user):
    assert mentions.parse_user(text) == user


@pytest.mark.parametrize("text", ["@alice", "<@U0ALICE", "<@alice>", "&lt;@U0ALICE&gt;", "<#C0SUPPORT|support>", ""])
def test_not_users(text):
    assert mentions.parse_user(text) is None
    assert mentions.user_error(text).startswith(mentions.escape(repr(text.strip())))


@pytest.mark.parametrize(
    "text, channel", [("<#C0SUPPORT|support>", "C0SUPPORT"), ("<#G0PRIV>", "G0PRIV"), ("C0X1", "C0X1")]
)
def test_channels(text, channel):
    assert mentions.parse_channel(text) == channel


def test_errors_name_what_was_wrong():
    assert "plain text, not a mention" in mentions.user_error("@lead")
    assert "malformed mention" in mentions.user_error("<@U0LEAD")
    assert "malformed channel mention" in mentions.channel_error("<#C0")
    assert "not a Slack channel" in mentions.channel_error("support")


def test_ledger_text_keeps_its_mentions_and_escapes_the_rest():
    assert mentions.escape_keeping_mentions("opted out by <@U0ADMIN> with /sms optout: a<b & c") == (
        "opted out by <@U0ADMIN> with /sms optout: a&lt;b &amp; c"
    )


def test_the_manifest_sends_sms_escaped():
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/sms" and command["should_escape"] is True
