"""Slack events: thread replies in line channels become SMS."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp

from bot.conversations.service import ThreadReply, reply_from_slack
from bot.services import Services

log = logging.getLogger(__name__)

# Edits, deletions, broadcasts, joins and bot posts are never texted to a customer.
_SENDABLE_SUBTYPES = {None, "file_share"}


def thread_reply_from(event: dict, event_id: str | None) -> ThreadReply | None:
    """The thread reply an event stands for, or None when it is not a person's new message in a thread."""
    if event.get("subtype") not in _SENDABLE_SUBTYPES or event.get("bot_id") or event.get("bot_profile"):
        return None
    thread_ts, ts, user = event.get("thread_ts"), event.get("ts"), event.get("user")
    if not thread_ts or not ts or thread_ts == ts or not user:
        return None
    return ThreadReply(
        event_id=event_id,
        channel=event.get("channel", ""),
        thread_ts=thread_ts,
        ts=ts,
        user=user,
        text=event.get("text") or "",
        files=tuple(event.get("files") or ()),
    )


def register(app: AsyncApp, services: Services) -> None:
    @app.event("message")
    async def on_message(event: dict, body: dict) -> None:
        if services.lines.by_channel(event.get("channel")) is None:
            return
        reply = thread_reply_from(event, body.get("event_id"))
        if reply is None:
            return
        outcome = await reply_from_slack(services, reply)
        log.info("slack reply %s in %s: %s", reply.ts, reply.channel, outcome)
