"""Users and channels as Slack sends them, the one parser every command that takes a person or a channel uses.

The `/sms` command is declared with `should_escape: true` (manifest.yml), so Slack sends a person picked from the
@ list as `<@U0ALICE|alice>` (or `<@U0ALICE>`), a channel picked from the # list as `<#C0SUPPORT|support>`, and
escapes `&`, `<` and `>` in everything else. A bare ID (`U0ALICE`, `C0SUPPORT`) is accepted too.
"""

from __future__ import annotations

import re

from bot.slack.format import escape

__all__ = ["channel_error", "escape", "escape_keeping_mentions", "parse_channel", "parse_user", "user_error"]

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]{2,})(?:\|[^<>|]*)?>$")
_CHANNEL_MENTION = re.compile(r"^<#([CG][A-Z0-9]{2,})(?:\|[^<>|]*)?>$")
_ESCAPED_MENTION = re.compile(r"&lt;([@#][UWCG][A-Z0-9]{2,})&gt;")


def parse_user(text: str) -> str | None:
    """The user ID of `<@U…|name>`, `<@U…>` or a bare `U…` ID; None for anything else."""
    text = text.strip()
    match = _USER_MENTION.match(text)
    if match:
        return match.group(1)
    return text if USER_ID.match(text) else None


def parse_channel(text: str) -> str | None:
    """The channel ID of `<#C…|name>`, `<#C…>` or a bare `C…` ID; None for anything else."""
    text = text.strip()
    match = _CHANNEL_MENTION.match(text)
    if match:
        return match.group(1)
    return text if CHANNEL_ID.match(text) else None


def _quoted(text: str) -> str:
    return escape(repr(text))


def user_error(text: str) -> str:
    """What is wrong with `text` where a person was expected (for a message that names it)."""
    text = text.strip()
    if text.startswith("<@") or text.startswith("&lt;@"):
        return f"{_quoted(text)} is a malformed mention (expected <@U…>); pick the person from Slack's @ list"
    if text.startswith("@"):
        return (
            f"{_quoted(text)} is plain text, not a mention Slack resolved: pick the person from the @ list as you "
            "type (or give their member ID, like U0ALICE)"
        )
    return f"{_quoted(text)} is not a Slack user; mention them like @alice (picked from the @ list)"


def channel_error(text: str) -> str:
    """What is wrong with `text` where a channel was expected."""
    text = text.strip()
    if text.startswith("<#") or text.startswith("&lt;#"):
        return f"{_quoted(text)} is a malformed channel mention (expected <#C…>); pick it from Slack's # list"
    return f"{_quoted(text)} is not a Slack channel; mention it like #support (picked from the # list)"


def escape_keeping_mentions(text: str) -> str:
    """Escape stored text for mrkdwn, but keep the `<@U…>` and `<#C…>` mentions it holds as mentions (so a
    ledger entry written as "opted out by <@U0ADMIN>" shows the person, not `&lt;@U0ADMIN&gt;`)."""
    return _ESCAPED_MENTION.sub(lambda m: f"<{m.group(1)}>", escape(text))
