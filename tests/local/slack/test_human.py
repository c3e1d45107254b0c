"""The human side: a person posts, runs /sms, clicks, submits a modal; Slack shows the app's answers."""

from __future__ import annotations

from tests.local.slack.conftest import PREFIX


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
        assert resp.status == 400 and "not valid JSON" in (await resp.json())["error"]
    async with http.post(PREFIX + "/say", json={"channel": "C0SUPPORT", "text": "hi"}) as resp:
        assert resp.status == 400 and "'user'" in (await resp.json())["error"]
    async with http.post(PREFIX + "/say", json={"channel": "C0SUPPORT", "user": "nobody", "text": "hi"}) as resp:
        assert resp.status == 400 and "Slack user ID" in (await resp.json())["error"]


async def test_say_answers_502_when_the_bot_is_down(env):
    workspace, _bot, _client, http = env
    workspace.bot_events_url = "http://127.0.0.1:1/slack/events"
    async with http.post(PREFIX + "/say", json={"channel": "C0SUPPORT", "user": "U0BOB", "text": "hi"}) as resp:
        assert resp.status == 502 and "did not answer" in (await resp.json())["error"]


async def test_command_posts_a_signed_form_and_shows_the_ack(env):
    workspace, bot, _client, http = env
    async with http.post(PREFIX + "/command", json={"channel": "C0SUPPORT", "user": "U0ADMIN", "text": "help"}) as resp:
        answer = await resp.json()
    assert answer == {"status": 200, "response": {"response_type": "ephemeral", "text": "pong: help"}}
    form = bot.received[-1]["body"]
    assert form["command"] == "/sms" and form["user_id"] == "U0ADMIN" and form["channel_id"] == "C0SUPPORT"
    assert form["response_url"].startswith(workspace.public_url) and form["trigger_id"]
    assert workspace.state()["ephemerals"]["U0ADMIN"][-1]["text"] == "pong: help"


async def test_command_text_is_escaped_as_slack_does_with_should_escape(env):
    """manifest.yml declares /sms with should_escape: true; the workspace delivers its text the same way."""
    workspace, bot, _client, http = env
    text = "team add @alice +14155550100 in #c0support & <b> @nobody"
    async with http.post(PREFIX + "/command", json={"channel": "C0SUPPORT", "user": "U0ADMIN", "text": text}) as resp:
        assert resp.status == 200
    form = bot.received[-1]["body"]
    assert form["text"] == ("team add <@U0ALICE|alice> +14155550100 in <#C0SUPPORT|c0support> &amp; &lt;b&gt; @nobody")


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


async def test_response_url_in_channel_and_unknown(slack, app, http):
    await slack.send_command(app.url + "/slack/events", text="hello", user_id="U1", channel_id="C0SMS")
    response_url = app.received[0]["body"]["response_url"]
    async with http.post(response_url, json={"response_type": "in_channel", "text": "done"}) as resp:
        assert resp.status == 200
    assert slack.response_url_posts == [{"response_type": "in_channel", "text": "done"}]
    assert slack.roots("C0SMS")[-1]["text"] == "done"
    async with http.post(response_url, data=b"not json") as resp:
        assert resp.status == 400
    async with http.post(slack.root + "/response/unknown", json={"text": "x"}) as resp:
        assert resp.status == 404


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
