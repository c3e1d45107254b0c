"""Local mode's workspace as the playground sees it: the whole state as JSON, and every change streamed."""

from __future__ import annotations

import asyncio
import json

from tests.local.slack.conftest import PREFIX


async def test_state_shape(env):
    workspace, _bot, client, http = env
    root = await client.chat_postMessage(channel="C0SUPPORT", text="card")
    await workspace.say("C0SUPPORT", "U0ALICE", "reply", thread_ts=root["ts"])
    await client.chat_postEphemeral(channel="C0SUPPORT", user="U0BOB", text="psst")
    async with http.get(PREFIX + "/state") as resp:
        state = await resp.json()
    [channel] = state["channels"]
    [card] = channel["messages"]
    assert channel["id"] == "C0SUPPORT" and card["text"] == "card" and card["reply_count"] == 1
    assert [r["text"] for r in card["replies"]] == ["reply"]
    [ephemeral] = state["ephemerals"]["U0BOB"]
    assert ephemeral["text"] == "psst" and ephemeral["channel"] == "C0SUPPORT" and ephemeral["bot_id"]
    assert {"users", "ephemerals", "views", "team", "bot"} <= set(state)


async def test_sse_stream_delivers_events(env):
    workspace, _bot, client, http = env
    async with http.get(PREFIX + "/events") as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        assert await resp.content.readline() == b": connected\n"
        await client.chat_postMessage(channel="C0SUPPORT", text="live")
        lines = []
        while not any(line.startswith(b"data: ") for line in lines):
            lines.append(await asyncio.wait_for(resp.content.readline(), 5))
        event = json.loads(next(line for line in lines if line.startswith(b"data: "))[6:])
        assert event["type"] == "message" and event["message"]["text"] == "live"

    queue = workspace.subscribe()
    await client.reactions_add(channel="C0SUPPORT", timestamp=event["message"]["ts"], name="eyes")
    assert (await asyncio.wait_for(queue.get(), 5))["type"] == "reaction"
