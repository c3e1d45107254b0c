"""Driving the inbox as people do: texts from the customer, clicks on the card, commands, thread replies."""

from __future__ import annotations

import json

from sqlalchemy import select

from storage.models import Conversation, ConversationEvent
from tests.support.bridge import AGENT, CHANNEL, LINE, card_first_text, root_recorded

CUSTOMER = "+14155550123"


async def open_thread(bridge, slack, twilio, body="hello", customer=CUSTOMER) -> str:
    """The customer texts; returns the thread's ts once its root card, which carries the text, is in Slack."""
    before = {m["ts"] for m in slack.roots(CHANNEL)}
    await twilio.send_inbound(bridge.url, from_=customer, to=LINE, body=body)
    await slack.wait_for(lambda: [m for m in slack.roots(CHANNEL) if m["ts"] not in before])
    ts = next(m["ts"] for m in slack.roots(CHANNEL) if m["ts"] not in before)
    await root_recorded(bridge, CHANNEL, ts)
    return ts


def card(slack, ts: str) -> str:
    """Everything the root card shows (its blocks as text)."""
    return json.dumps(slack.message(CHANNEL, ts)["blocks"])


def buttons(slack, ts: str) -> dict[str, dict]:
    blocks = slack.message(CHANNEL, ts)["blocks"]
    return {e["action_id"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]}


def thread_text(slack, ts: str) -> str:
    """The conversation's texts and notes as Slack shows them: the root card's first text, then the thread."""
    first = card_first_text(slack, CHANNEL, ts)
    return "\n".join(([first] if first is not None else []) + [m.get("text", "") for m in slack.thread(CHANNEL, ts)])


async def click(bridge, slack, ts: str, action_id: str, user: str = AGENT) -> str:
    """Click a button of the card as `user`; returns what the app answered them (ephemerally), if anything."""
    button = buttons(slack, ts)[action_id]
    answered = len(slack.response_url_posts)
    status, body = await slack.send_action(
        bridge.events_url,
        {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower()},
            "channel": {"id": CHANNEL},
            "container": {"type": "message", "channel_id": CHANNEL, "message_ts": ts},
            "message": {"ts": ts},
            "trigger_id": "1.2.3",
            "response_url": slack.response_urls.new({"user": user, "channel": CHANNEL}),
            "actions": [{**button, "block_id": "conversation_card", "action_ts": "1"}],
        },
    )
    assert status == 200, body
    posts = slack.response_url_posts[answered:]
    return posts[-1].get("text", "") if posts else ""


async def command(bridge, slack, text: str, user: str = AGENT) -> str:
    status, body = await slack.send_command(bridge.events_url, text=text, user_id=user, channel_id=CHANNEL)
    assert status == 200, body
    return json.loads(body).get("text", "") if body else ""


async def conversation(bridge, phone: str = CUSTOMER) -> Conversation:
    async with bridge.services.db.session() as session:
        return await session.scalar(select(Conversation).where(Conversation.phone == phone))


async def history(bridge) -> list[tuple[str, str | None, str | None]]:
    async with bridge.services.db.session() as session:
        rows = (await session.scalars(select(ConversationEvent).order_by(ConversationEvent.id))).all()
    return [(e.kind, e.actor, e.value) for e in rows]
