"""Slack's requests to the app: signed (v0), in Slack's envelopes, and an unacknowledged event retried with
the same event_id."""

from __future__ import annotations

import asyncio
import json
import time


async def test_signed_event_delivery_and_user_message(slack, app, http):
    url = app.url + "/slack/events"
    status, _ = await slack.send_event(url, {"type": "app_mention", "text": "hi"}, retry_num=1)
    first = app.received[0]
    envelope = first["body"]
    assert status == 200 and app.bad_signatures == 0 and first["headers"]["X-Slack-Retry-Num"] == "1"
    assert envelope["type"] == "event_callback" and envelope["event_id"].startswith("Ev")
    assert envelope["authorizations"][0]["user_id"] == "U0BOT" and envelope["team_id"] == "T0TEST"

    await slack.send_event(url, {"type": "app_mention"}, timestamp=int(time.time()) - 600)
    await slack.send_event(url, {"type": "app_mention"}, signature="v0=bad")
    assert app.bad_signatures == 2 and len(app.received) == 1

    upload = slack.add_file(name="note.txt", mimetype="text/plain", content=b"hello")
    root = slack.user_posts(channel="C0SMS", user="U2", text="root")
    message = await slack.user_message(
        url, channel="C0SMS", user="U1", text="look", thread_ts=root["ts"], files=[upload]
    )
    event = app.received[-1]["body"]["event"]
    assert event["subtype"] == "file_share" and event["files"][0]["size"] == 5 and event["thread_ts"] == root["ts"]
    assert event["parent_user_id"] == "U2" and event["channel_type"] == "channel"
    assert event["ts"] == message["ts"] == event["event_ts"] and message["delivery"][0] == 200
    assert slack.message("C0SMS", message["ts"])["user"] == "U1"
    async with http.get(
        event["files"][0]["url_private_download"], headers={"Authorization": f"Bearer {slack.bot_token}"}
    ) as resp:
        assert await resp.read() == b"hello"


async def test_command_and_interaction_are_signed_forms(slack, app):
    await slack.send_command(app.url + "/slack/events", text="+15551234567 hello", user_id="U1", channel_id="C0SMS")
    command = app.received[0]["body"]
    assert app.bad_signatures == 0 and command["command"] == "/sms" and command["trigger_id"]
    assert slack.workspace.triggers[command["trigger_id"]] == "U1"  # the app may open a modal with it

    await slack.send_action(app.url + "/slack/events", {"type": "shortcut", "callback_id": "x"})
    assert app.received[-1]["body"]["team"]["id"] == "T0TEST"


async def test_an_unacknowledged_event_is_retried_with_the_same_event_id(env):
    workspace, bot, _client, _http = env
    workspace.delivery.retry_delays = (0.01, 0.01, 0.01)
    bot.status = 500
    said = await workspace.say("C0SUPPORT", "U0ALICE", "hello?")
    assert said["bot_status"] == 500
    for _ in range(200):
        if len(bot.received) == 4:
            break
        await asyncio.sleep(0.01)
    envelopes = [r["body"] for r in bot.received]
    assert len({e["event_id"] for e in envelopes}) == 1 and envelopes[0]["event"]["ts"] == said["ts"]
    assert [r["headers"].get("X-Slack-Retry-Num") for r in bot.received] == [None, "1", "2", "3"]

    bot.status = 200
    bot.received.clear()
    await workspace.say("C0SUPPORT", "U0ALICE", "and now?")
    await asyncio.sleep(0.05)
    assert len(bot.received) == 1  # acknowledged: not retried
    assert json.dumps(bot.received[0]["body"]["event"]["text"]) == '"and now?"'
