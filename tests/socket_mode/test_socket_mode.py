"""The bridge in Socket Mode, end to end: Slack's WebSocket protocol (tests/emulators/socket_mode.py) carries the
commands, events, buttons and modal submissions; no HTTP request from Slack is involved."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from sqlalchemy import func, select

from handlers.slack import contacts_commands
from storage.models import ConsentEvent, Contact, Message
from tests.emulators.socket_mode import SocketModeEmulator
from tests.support.bridge import ADMIN, AGENT, CHANNEL, LINE, root_recorded

CUSTOMER = "+14155550124"


@pytest.fixture
async def socket(slack):
    emulator = await SocketModeEmulator(slack).start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def bridge(make_bridge, socket):
    bridge = await make_bridge(
        env={"SLACK_APP_TOKEN": socket.app_token, "SLACK_SIGNING_SECRET": "", "SLACK_API_URL": socket.url}
    )
    await socket.wait_for_connections(1)
    return bridge


async def open_thread(bridge, slack, twilio, body: str = "hello") -> str:
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body=body)
    await slack.wait_for(lambda: slack.roots(CHANNEL))
    ts = slack.roots(CHANNEL)[0]["ts"]
    await root_recorded(bridge, CHANNEL, ts)
    return ts


async def outbound(bridge) -> int:
    async with bridge.services.db.session() as session:
        return await session.scalar(select(func.count(Message.id)).where(Message.direction == "out"))


async def test_the_bridge_connects_with_its_app_token_and_gets_hello(bridge, socket):
    assert socket.opened == 1 and socket.open_connections == 1
    assert socket.frames[0]["type"] == "hello"


async def test_a_slash_command_is_acknowledged_with_its_answer(bridge, slack, socket, twilio):
    ack = await socket.command(text=f"send {CUSTOMER} Your order shipped", user_id=AGENT, channel_id=CHANNEL)
    assert set(ack) == {"envelope_id", "payload"}
    assert "new thread" in ack["payload"]["text"]
    [shown] = slack.ephemerals
    assert shown["user"] == AGENT and "new thread" in shown["text"]
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    assert (twilio.sent[0]["to"], twilio.sent[0]["body"]) == (CUSTOMER, "Your order shipped")


async def test_a_thread_reply_redelivered_by_slack_is_texted_once(bridge, slack, socket, twilio):
    thread = await open_thread(bridge, slack, twilio)
    message = slack.user_posts(channel=CHANNEL, user=AGENT, text="once please", thread_ts=thread)
    first = await socket.message_event(message)
    again = await socket.message_event(message, retry_attempt=1)  # same event_id, as Slack redelivers
    assert set(first) == {"envelope_id"} and set(again) == {"envelope_id"}  # events take no response payload
    redelivered = [f for f in socket.frames if f.get("type") == "events_api" and f["retry_attempt"] == 1]
    assert redelivered and redelivered[0]["payload"]["event_id"] == message["event_id"]
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    await asyncio.sleep(0.3)
    assert [m["body"] for m in twilio.sent] == ["once please"] and await outbound(bridge) == 1


async def test_a_button_click_is_acknowledged_and_acted_on(bridge, slack, socket, twilio):
    root = await open_thread(bridge, slack, twilio)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="stop please")
    await slack.wait_for(
        lambda: "stop_request_confirm" in json.dumps([m.get("blocks") for m in slack.thread(CHANNEL, root)]),
        what="the Confirm opt-out button",
    )
    flagged = next(m for m in slack.thread(CHANNEL, root) if "stop_request_confirm" in json.dumps(m.get("blocks")))
    button = next(
        e
        for b in flagged["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "stop_request_confirm"
    )
    ack = await socket.interaction(
        {
            "type": "block_actions",
            "user": {"id": AGENT},
            "channel": {"id": CHANNEL},
            "container": {"type": "message", "channel_id": CHANNEL, "message_ts": flagged["ts"]},
            "message": {"ts": flagged["ts"]},
            "trigger_id": "1.2.3",
            "response_url": f"{slack.root}/response/none",
            "actions": [{**button, "block_id": "b", "action_ts": "1"}],
        }
    )
    assert set(ack) == {"envelope_id"}
    assert socket.frames[-1]["accepts_response_payload"] is False
    async with bridge.services.db.session() as session:
        [event] = (await session.scalars(select(ConsentEvent))).all()
    assert (event.phone, event.action, event.source, event.actor) == (CUSTOMER, "opt_out", "request", AGENT)


async def test_a_modal_opened_by_a_command_is_submitted_over_the_socket(bridge, slack, socket):
    await socket.command(text="contacts import", user_id=ADMIN, channel_id=CHANNEL)
    [view] = slack.views.values()
    assert view["callback_id"] == "contacts_import"
    csv = b"phone,first_name\n4155550123,Ann\n"
    file = socket.file(slack.add_file(name="people.csv", mimetype="text/csv", content=csv, user=ADMIN))
    state = {
        "values": {contacts_commands.BLOCK_ID: {contacts_commands.ACTION_ID: {"type": "file_input", "files": [file]}}}
    }
    ack = await socket.interaction(
        {"type": "view_submission", "user": {"id": ADMIN}, "trigger_id": "1.2.4", "view": {**view, "state": state}}
    )
    assert socket.frames[-1]["accepts_response_payload"] is True and ack["envelope_id"]
    await slack.wait_for(lambda: slack.ephemerals, what="the import report")
    assert slack.ephemerals[-1]["text"].startswith(":white_check_mark: people.csv: imported 1 row")
    async with bridge.services.db.session() as session:
        assert await session.scalar(select(func.count(Contact.id))) == 1


async def test_after_a_dropped_socket_the_bridge_reconnects_and_no_event_is_lost(bridge, slack, socket, twilio):
    thread = await open_thread(bridge, slack, twilio)
    socket.drop()
    # Posted while the bridge has no connection: Slack keeps the event and delivers it once one is open.
    message = slack.user_posts(channel=CHANNEL, user=AGENT, text="after the drop", thread_ts=thread)
    delivery = asyncio.create_task(socket.message_event(message))
    await socket.wait_for_connections(1)
    await delivery
    assert socket.opened == 2 and socket.connections == 2
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    assert twilio.sent[0]["body"] == "after the drop"


async def test_a_refresh_request_moves_the_bridge_to_a_new_connection(bridge, slack, socket, twilio, caplog):
    caplog.set_level(logging.INFO)
    thread = await open_thread(bridge, slack, twilio)
    await socket.disconnect("refresh_requested")
    await slack.wait_for(lambda: socket.opened == 2 and socket.open_connections == 1, what="the new connection")
    await socket.user_message(channel=CHANNEL, user=AGENT, text="after the refresh", thread_ts=thread)
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    assert twilio.sent[0]["body"] == "after the refresh" and await outbound(bridge) == 1
