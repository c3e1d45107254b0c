"""The Web API methods, driven by slack_sdk as the bot drives them: answers in Slack's shapes, refusals as
HTTP 200 with an error code, threads, reactions, metadata, the external upload flow and views."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.local.slack.conftest import PREFIX, TOKEN


async def test_post_thread_update_react_delete(slack, client):
    root = await client.chat_postMessage(
        channel="C0SMS", text="root", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    )
    assert root["ok"] and root["channel"] == "C0SMS"
    assert root["message"]["bot_id"] == "B0BOT" and root["message"]["user"] == "U0BOT"
    reply = await client.chat_postMessage(channel="C0SMS", text="reply", thread_ts=root["ts"])
    assert float(reply["ts"]) > float(root["ts"])
    assert [m["text"] for m in slack.roots("C0SMS")] == ["root"]
    assert [m["text"] for m in slack.thread("C0SMS", root["ts"])] == ["reply"]

    updated = await client.chat_update(channel="C0SMS", ts=root["ts"], text="root v2")
    assert updated["message"]["edited"]["user"] == "U0BOT" and updated["message"]["blocks"][0]["type"] == "section"
    assert slack.message("C0SMS", root["ts"])["edited"]

    await client.reactions_add(channel="C0SMS", timestamp=root["ts"], name="white_check_mark")
    with pytest.raises(SlackApiError) as err:
        await client.reactions_add(channel="C0SMS", timestamp=root["ts"], name="white_check_mark")
    assert err.value.response["error"] == "already_reacted"
    assert slack.message("C0SMS", root["ts"])["reactions"] == {"white_check_mark": ["U0BOT"]}
    await client.reactions_remove(channel="C0SMS", timestamp=root["ts"], name="white_check_mark")
    with pytest.raises(SlackApiError) as err:
        await client.reactions_remove(channel="C0SMS", timestamp=root["ts"], name="white_check_mark")
    assert err.value.response["error"] == "no_reaction"

    ephemeral = await client.chat_postEphemeral(channel="C0SMS", user="U1", text="only you")
    assert slack.ephemerals[0]["user"] == "U1" and ephemeral["message_ts"]
    await client.chat_delete(channel="C0SMS", ts=reply["ts"])
    assert slack.thread("C0SMS", root["ts"]) == []
    assert [name for name, _ in slack.calls].count("chat.postMessage") == 2


async def test_deleting_a_root_with_replies_leaves_a_tombstone(slack, client):
    root = await client.chat_postMessage(channel="C0SMS", text="root")
    await client.chat_postMessage(channel="C0SMS", text="reply", thread_ts=root["ts"])
    await client.chat_delete(channel="C0SMS", ts=root["ts"])
    [tombstone] = (await client.conversations_history(channel="C0SMS"))["messages"]
    assert tombstone["subtype"] == "tombstone" and tombstone["reply_count"] == 1


async def test_history_and_replies_with_metadata(env):
    workspace, _bot, client, _http = env
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
    await client.chat_update(channel="C0SUPPORT", ts=root["ts"], text="card v2")
    await client.reactions_add(channel="C0SUPPORT", timestamp=reply["ts"], name="white_check_mark")

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


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_api_errors_are_http_200_like_slack(slack, client, http):
    with pytest.raises(SlackApiError) as err:
        await AsyncWebClient(token="xoxb-wrong", base_url=slack.url).auth_test()
    assert err.value.response.status_code == 200 and err.value.response["error"] == "invalid_auth"
    async with http.post(slack.url + "chat.postMessage", data={"channel": "C1", "text": "x"}) as resp:
        assert resp.status == 200 and (await resp.json())["error"] == "not_authed"
    headers = {"Authorization": f"Bearer {slack.bot_token}", "Content-Type": "application/json"}
    async with http.post(slack.url + "chat.postMessage", data=b"{not json", headers=headers) as resp:
        assert resp.status == 200 and (await resp.json())["error"] == "invalid_json"
    for kwargs, error in [
        ({"channel": "C1", "blocks": "[{]"}, "invalid_blocks_format"),
        ({"channel": "C1", "blocks": [{"no": "type"}]}, "invalid_blocks"),
        ({"channel": "C1"}, "no_text"),
        ({"channel": "C1", "text": "x" * 40_001}, "msg_too_long"),
        ({"channel": "not a channel", "text": "x"}, "channel_not_found"),
        ({"channel": "C1", "text": "x", "thread_ts": "not-a-ts"}, "thread_not_found"),
    ]:
        with pytest.raises(SlackApiError) as err:
            await client.chat_postMessage(**kwargs)
        assert err.value.response["error"] == error
    slack.add_channel("C0OLD", is_archived=True)
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C0OLD", text="x")
    assert err.value.response["error"] == "is_archived"
    slack.block_kit_violations.clear()  # the refused blocks above were sent on purpose
    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel="C1", ts="1.000001", text="x")
    assert err.value.response["error"] == "message_not_found"
    assert (await client.auth_test())["user_id"] == "U0BOT"


async def test_users_info(slack, client):
    slack.add_user("U1", real_name="Ada Lovelace", phone="+15551230000", tz="Europe/London")
    user = (await client.users_info(user="U1"))["user"]
    assert user["real_name"] == "Ada Lovelace" and user["profile"]["phone"] == "+15551230000"
    assert user["tz"] == "Europe/London" and isinstance(user["tz_offset"], int)
    with pytest.raises(SlackApiError) as err:
        await client.users_info(user="U404")
    assert err.value.response["error"] == "user_not_found"


async def test_local_people_and_channels(env):
    workspace, _bot, client, _http = env
    alice = (await client.users_info(user="U0ALICE"))["user"]
    assert alice["real_name"] == "Alice (agent)" and alice["tz"] and alice["profile"]["phone"].startswith("+1")
    assert (await client.users_info(user="U0ADMIN"))["user"]["is_admin"] is True
    assert (await client.conversations_info(channel="C0SUPPORT"))["channel"]["id"] == "C0SUPPORT"
    with pytest.raises(SlackApiError) as exc:
        await AsyncWebClient(token="xoxb-wrong", base_url=workspace.public_url + "/api/").auth_test()
    assert exc.value.response["error"] == "invalid_auth"


async def test_local_threads_from_before_the_workspace_was_kept_stay_usable(env):
    workspace, _bot, client, http = env
    await client.chat_postMessage(channel="C0SUPPORT", text="new root")
    old = "1600000000.000100"  # a thread the bot's database remembers, from before the workspace was kept
    reply = await client.chat_postMessage(channel="C0SUPPORT", thread_ts=old, text="later reply")
    history = (await client.conversations_history(channel="C0SUPPORT"))["messages"]
    assert [m["ts"] for m in history][-1] == old  # newest first, the restored root is the oldest
    replies = (await client.conversations_replies(channel="C0SUPPORT", ts=old))["messages"]
    assert [m["ts"] for m in replies] == [old, reply["ts"]]
    async with http.post(
        PREFIX + "/say", json={"channel": "C0SUPPORT", "user": "U0ALICE", "text": "x", "thread_ts": "1600000000.999999"}
    ) as resp:
        assert resp.status == 400 and "thread not found" in (await resp.json())["error"]


async def test_files_upload_v2_round_trip_and_download(slack, client, http):
    root = await client.chat_postMessage(channel="C0SMS", text="thread")
    result = await client.files_upload_v2(
        channel="C0SMS",
        thread_ts=root["ts"],
        content=b"\x89PNG-bytes",
        filename="pic.png",
        title="A picture",
        initial_comment="see",
    )
    file_id = result["file"]["id"]
    stored = slack.files[file_id]
    assert stored["bytes"] == b"\x89PNG-bytes" and stored["title"] == "A picture" and stored["mimetype"] == "image/png"
    assert (stored["channel"], stored["thread_ts"]) == ("C0SMS", root["ts"])
    [shared] = slack.thread("C0SMS", root["ts"])
    assert shared["text"] == "see" and shared["files"][0]["id"] == file_id
    assert (await client.files_info(file=file_id))["file"]["size"] == 10

    async with http.get(stored["url_private"], headers={"Authorization": f"Bearer {slack.bot_token}"}) as resp:
        assert resp.status == 200 and await resp.read() == b"\x89PNG-bytes"
    async with http.get(stored["url_private_download"]) as resp:  # no token: Slack's sign-in page
        assert resp.content_type == "text/html"


async def test_local_files_are_served_under_the_prefix(env):
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
    assert file["url_private"].startswith(workspace.public_url + "/files-pri/")
    replies = (await client.conversations_replies(channel="C0SUPPORT", ts=root["ts"]))["messages"]
    assert replies[1]["files"][0]["id"] == file["id"]
    async with http.get(file["url_private"], headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
        assert resp.status == 200 and await resp.read() == b"\x89PNG fake"


async def test_views_need_a_trigger_the_app_was_given(slack, client):
    view = {"type": "modal", "callback_id": "compose", "title": {"type": "plain_text", "text": "Text"}}
    view["blocks"] = [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}]
    with pytest.raises(SlackApiError) as err:
        await client.views_open(trigger_id="1.2.made-up", view=view)
    assert err.value.response["error"] == "invalid_trigger_id"
    opened = await client.views_open(trigger_id=slack.workspace.new_trigger("U1"), view=view)
    view_id = opened["view"]["id"]
    updated = await client.views_update(view_id=view_id, view={**view, "private_metadata": "x"})
    assert updated["view"]["id"] == view_id and slack.views[view_id]["private_metadata"] == "x"
    with pytest.raises(SlackApiError) as err:
        await client.views_update(view_id="V404", view=view)
    assert err.value.response["error"] == "not_found"
