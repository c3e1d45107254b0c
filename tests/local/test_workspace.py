"""The embedded Slack workspace: its Web API (driven by slack_sdk) and its human side (signed requests to a bot)."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.local import LocalWorkspace

TOKEN = "xoxb-local-workspace"
SECRET = "0123456789abcdef0123456789abcdef"
PREFIX = "/_local/slack"


class StandInBot:
    """A tiny bot at /slack/events: checks Slack's signature, records what it got, answers like Bolt would."""

    def __init__(self) -> None:
        self.verifier = SignatureVerifier(SECRET)
        self.received: list[dict] = []
        self.bad_signatures = 0
        self.client: AsyncWebClient | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self.verifier.is_valid(
            body=body,
            timestamp=request.headers.get("X-Slack-Request-Timestamp"),
            signature=request.headers.get("X-Slack-Signature"),
        ):
            self.bad_signatures += 1
            return web.Response(status=401)
        if request.content_type == "application/json":
            self.received.append({"kind": "event", "body": json.loads(body)})
            return web.Response()
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if "payload" in form:
            payload = json.loads(form["payload"])
            self.received.append({"kind": payload["type"], "body": payload})
            if payload["type"] == "block_actions":
                async with aiohttp.ClientSession() as http:
                    await http.post(
                        payload["response_url"],
                        json={
                            "text": "clicked " + payload["actions"][0]["value"],
                            "response_type": "ephemeral",
                            "replace_original": False,
                        },
                    )
                return web.Response()
            values = payload["view"]["state"]["values"]
            if not values["name"]["name_input"]["value"]:
                return web.json_response({"response_action": "errors", "errors": {"name": "required"}})
            return web.Response()
        self.received.append({"kind": "command", "body": form})
        if form["text"] == "modal":
            await self.client.views_open(
                trigger_id=form["trigger_id"],
                view={
                    "type": "modal",
                    "callback_id": "campaign_modal",
                    "private_metadata": "C0SUPPORT",
                    "title": {"type": "plain_text", "text": "Campaign"},
                    "submit": {"type": "plain_text", "text": "Go"},
                    "blocks": [
                        {
                            "type": "input",
                            "block_id": "name",
                            "label": {"type": "plain_text", "text": "Name"},
                            "element": {"type": "plain_text_input", "action_id": "name_input"},
                        }
                    ],
                },
            )
            return web.Response()
        return web.json_response({"response_type": "ephemeral", "text": f"pong: {form['text']}"})


@pytest.fixture
async def env():
    bot = StandInBot()
    app = web.Application()
    app.router.add_post("/slack/events", bot.handle)
    workspace = LocalWorkspace(token=TOKEN, signing_secret=SECRET, bot_events_url="http://127.0.0.1:1/slack/events")
    workspace.mount(app, PREFIX)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    workspace.bot_events_url = base + "/slack/events"
    client = AsyncWebClient(token=TOKEN, base_url=workspace.public_url + "/api/")
    bot.client = client
    async with aiohttp.ClientSession(base_url=base) as http:
        yield workspace, bot, client, http
    await server.close()


async def test_post_update_react_and_history_with_metadata(env):
    workspace, _bot, client, _http = env
    auth = await client.auth_test()
    assert auth["user_id"] == "U0BOT" and auth["bot_id"] and auth["team_id"]

    root = await client.chat_postMessage(
        channel="C0SUPPORT",
        text="card",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "card"}}],
        metadata={"event_type": "sms_bridge_post", "event_payload": {"outbox_id": 7}},
    )
    assert root["channel"] == "C0SUPPORT" and "metadata" not in root["message"]
    reply = await client.chat_postMessage(
        channel="C0SUPPORT",
        thread_ts=root["ts"],
        text="hello",
        metadata={"event_type": "sms_bridge_post", "event_payload": {"outbox_id": 8}},
    )
    assert float(reply["ts"]) > float(root["ts"])

    await client.chat_update(channel="C0SUPPORT", ts=root["ts"], text="card v2")
    await client.reactions_add(channel="C0SUPPORT", timestamp=reply["ts"], name="white_check_mark")
    with pytest.raises(SlackApiError) as exc:
        await client.reactions_add(channel="C0SUPPORT", timestamp=reply["ts"], name="white_check_mark")
    assert exc.value.response["error"] == "already_reacted"
    with pytest.raises(SlackApiError) as exc:
        await client.reactions_remove(channel="C0SUPPORT", timestamp=reply["ts"], name="x")
    assert exc.value.response["error"] == "no_reaction"

    history = await client.conversations_history(channel="C0SUPPORT", include_all_metadata=True, limit=10)
    [card] = history["messages"]
    assert card["text"] == "card v2" and card["blocks"][0]["type"] == "section"  # blocks kept by a text update
    assert card["metadata"]["event_payload"] == {"outbox_id": 7} and card["reply_count"] == 1
    plain = await client.conversations_history(channel="C0SUPPORT")
    assert "metadata" not in plain["messages"][0]
    later = await client.conversations_history(channel="C0SUPPORT", oldest=root["ts"])
    assert later["messages"] == []  # oldest is exclusive

    replies = await client.conversations_replies(channel="C0SUPPORT", ts=root["ts"], include_all_metadata=True)
    assert [m["ts"] for m in replies["messages"]] == [root["ts"], reply["ts"]]
    assert replies["messages"][1]["metadata"]["event_payload"]["outbox_id"] == 8
    assert replies["messages"][1]["reactions"] == [{"name": "white_check_mark", "users": ["U0BOT"], "count": 1}]

    await client.chat_delete(channel="C0SUPPORT", ts=reply["ts"])
    assert [m["ts"] for m in workspace.messages] == [root["ts"]]
    with pytest.raises(SlackApiError) as exc:
        await client.chat_update(channel="C0SUPPORT", ts="1.000001", text="x")
    assert exc.value.response["error"] == "message_not_found"


async def test_auth_users_and_channels(env):
    workspace, _bot, client, _http = env
    alice = (await client.users_info(user="U0ALICE"))["user"]
    assert alice["real_name"] == "Alice (agent)" and alice["tz"] and alice["profile"]["phone"].startswith("+1")
    assert (await client.users_info(user="U0ADMIN"))["user"]["real_name"] == "Admin"
    with pytest.raises(SlackApiError) as exc:
        await client.users_info(user="U0NOBODY")
    assert exc.value.response["error"] == "user_not_found"
    assert (await client.conversations_info(channel="C0SUPPORT"))["channel"]["id"] == "C0SUPPORT"
    with pytest.raises(SlackApiError) as exc:
        await AsyncWebClient(token="xoxb-wrong", base_url=workspace.public_url + "/api/").auth_test()
    assert exc.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="C0SUPPORT", text="x", thread_ts="not-a-ts")
    assert exc.value.response["error"] == "thread_not_found"


async def test_threads_from_before_a_restart_stay_usable(env):
    workspace, _bot, client, http = env
    await client.chat_postMessage(channel="C0SUPPORT", text="new root")
    old = "1600000000.000100"  # a thread the bot's database remembers, lost with the previous workspace
    reply = await client.chat_postMessage(channel="C0SUPPORT", thread_ts=old, text="later reply")
    history = (await client.conversations_history(channel="C0SUPPORT"))["messages"]
    assert [m["ts"] for m in history][-1] == old  # newest first, the restored root is the oldest
    replies = (await client.conversations_replies(channel="C0SUPPORT", ts=old))["messages"]
    assert [m["ts"] for m in replies] == [old, reply["ts"]]
    async with http.post(
        PREFIX + "/say", json={"channel": "C0SUPPORT", "user": "U0ALICE", "text": "x", "thread_ts": "1600000000.999999"}
    ) as resp:
        assert resp.status == 400 and "thread not found" in (await resp.json())["error"]


async def test_files_upload_v2_lands_in_the_thread_and_downloads_with_the_bot_token(env):
    workspace, _bot, client, http = env
    root = await client.chat_postMessage(channel="C0SUPPORT", text="card")
    done = await client.files_upload_v2(
        channel="C0SUPPORT",
        thread_ts=root["ts"],
        file_uploads=[
            {"content": b"\x89PNG fake", "filename": "mms-1-1.png", "title": "MMS from the customer (image/png)"}
        ],
    )
    file = done["file"]
    assert file["title"] == "MMS from the customer (image/png)" and file["mimetype"] == "image/png"

    replies = (await client.conversations_replies(channel="C0SUPPORT", ts=root["ts"]))["messages"]
    assert replies[1]["files"][0]["id"] == file["id"]
    async with http.get(file["url_private"], headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
        assert resp.status == 200 and await resp.read() == b"\x89PNG fake"
    async with http.get(file["url_private"]) as resp:
        assert resp.status == 403


async def test_say_delivers_a_signed_message_event(env):
    workspace, bot, client, http = env
    root = await client.chat_postMessage(channel="C0SUPPORT", text="card")
    said = await workspace.say("C0SUPPORT", "U0ALICE", "on my way <3", thread_ts=root["ts"])
    assert said["bot_status"] == 200 and bot.bad_signatures == 0
    [got] = bot.received
    envelope = got["body"]
    assert envelope["type"] == "event_callback" and envelope["event_id"].startswith("Ev")
    event = envelope["event"]
    assert event["type"] == "message" and event["channel_type"] == "channel" and event["user"] == "U0ALICE"
    assert event["thread_ts"] == root["ts"] and event["ts"] == said["ts"] and event["text"] == "on my way &lt;3"

    async with http.post(
        PREFIX + "/say",
        json={"channel": "C0SUPPORT", "user": "U0BOB", "text": "hi", "files": [{"name": "a.txt", "text": "hello"}]},
    ) as resp:
        assert resp.status == 200
        assert (await resp.json())["message"]["files"][0]["name"] == "a.txt"
    assert bot.received[-1]["body"]["event"]["subtype"] == "file_share"

    async with http.post(PREFIX + "/say", data="{not json", headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 400 and "invalid JSON" in (await resp.json())["error"]
    async with http.post(PREFIX + "/say", json={"channel": "C0SUPPORT", "text": "hi"}) as resp:
        assert resp.status == 400 and "'user'" in (await resp.json())["error"]


async def test_command_posts_a_signed_form_and_returns_the_ack(env):
    workspace, bot, _client, http = env
    async with http.post(PREFIX + "/command", json={"channel": "C0SUPPORT", "user": "U0ADMIN", "text": "help"}) as resp:
        answer = await resp.json()
    assert answer == {"status": 200, "response": {"response_type": "ephemeral", "text": "pong: help"}}
    form = bot.received[-1]["body"]
    assert form["command"] == "/sms" and form["user_id"] == "U0ADMIN" and form["channel_id"] == "C0SUPPORT"
    assert form["response_url"].startswith(workspace.public_url) and form["trigger_id"]
    assert workspace.state()["ephemerals"]["U0ADMIN"][-1]["text"] == "pong: help"


async def test_action_and_response_url(env):
    workspace, bot, client, _http = env
    posted = await client.chat_postMessage(
        channel="C0SUPPORT",
        text="card",
        blocks=[
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "conversation_opt_out",
                        "value": "+14155550123",
                        "text": {"type": "plain_text", "text": "Opt out"},
                    }
                ],
            }
        ],
    )
    result = await workspace.action("C0SUPPORT", "U0ALICE", posted["ts"], "conversation_opt_out")
    assert result["status"] == 200
    payload = bot.received[-1]["body"]
    assert payload["type"] == "block_actions" and payload["actions"][0]["value"] == "+14155550123"
    assert payload["container"]["message_ts"] == posted["ts"] and payload["message"]["ts"] == posted["ts"]
    assert workspace.state()["ephemerals"]["U0ALICE"][-1]["text"] == "clicked +14155550123"
    assert workspace.responses[-1]["body"]["text"] == "clicked +14155550123"


async def test_modal_open_and_submit(env):
    workspace, bot, _client, http = env
    await workspace.command("C0SUPPORT", "U0ADMIN", "modal")
    [view] = workspace.state()["views"]
    assert view["callback_id"] == "campaign_modal" and view["user"] == "U0ADMIN"

    refused = await workspace.submit_view("U0ADMIN", view["id"], {"name": {"name_input": ""}})
    assert refused["response"]["response_action"] == "errors" and workspace.state()["views"]
    async with http.post(
        PREFIX + "/view_submission",
        json={"user": "U0ADMIN", "view_id": view["id"], "values": {"name": {"name_input": "Spring"}}},
    ) as resp:
        assert (await resp.json())["status"] == 200
    submitted = bot.received[-1]["body"]["view"]
    assert submitted["private_metadata"] == "C0SUPPORT"
    assert submitted["state"]["values"]["name"]["name_input"]["value"] == "Spring"
    assert workspace.state()["views"] == []


async def test_state_shape(env):
    workspace, _bot, client, http = env
    root = await client.chat_postMessage(channel="C0SUPPORT", text="card")
    await workspace.say("C0SUPPORT", "U0ALICE", "reply", thread_ts=root["ts"])
    async with http.get(PREFIX + "/state") as resp:
        state = await resp.json()
    [channel] = state["channels"]
    [card] = channel["messages"]
    assert channel["id"] == "C0SUPPORT" and card["text"] == "card"
    assert [r["text"] for r in card["replies"]] == ["reply"]
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
