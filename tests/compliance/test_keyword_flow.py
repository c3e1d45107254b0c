"""STOP/START/HELP and carrier opt-out errors, end to end: signed Twilio webhooks in, Slack and SMS out."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.compliance.keywords import OPT_OUT_WORDS
from storage.models import ConsentEvent, Contact, Message
from tests.support.bridge import ADMIN, AGENT, CHANNEL, LINE, outbox_drained, root_recorded

CUSTOMER = "+14155550123"


async def events(bridge) -> list[ConsentEvent]:
    async with bridge.services.db.session() as session:
        return list((await session.scalars(select(ConsentEvent).order_by(ConsentEvent.id))).all())


async def outbound(bridge) -> list[Message]:
    async with bridge.services.db.session() as session:
        return list(
            (await session.scalars(select(Message).where(Message.direction == "out").order_by(Message.id))).all()
        )


async def open_thread(bridge, slack, twilio, body: str = "hi") -> dict:
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body=body)
    await slack.wait_for(lambda: len(slack.roots(CHANNEL)) == 1)
    root = slack.roots(CHANNEL)[0]
    await root_recorded(bridge, CHANNEL, root["ts"])
    return root


def thread_json(slack, root) -> str:
    """Everything the conversation shows in Slack: its root card (with the first text) and its thread."""
    return json.dumps([slack.message(CHANNEL, root["ts"])] + slack.thread(CHANNEL, root["ts"]))


def card(slack, root) -> str:
    return json.dumps(slack.message(CHANNEL, root["ts"])["blocks"])


async def settled(bridge, slack, twilio, root, sms_count: int) -> None:
    """Wait until the automatic answer is at the carrier and in the thread, and every outbox row is done."""
    await twilio.wait_for(lambda: len(twilio.sent) >= sms_count)
    await slack.wait_for(lambda: "Automatic answer" in thread_json(slack, root))
    await outbox_drained(bridge)


@pytest.mark.parametrize("word", sorted(OPT_OUT_WORDS) + ["  stop.\n", "Opt-Out"])
async def test_opt_out_keyword(bridge, slack, twilio, word):
    root = await open_thread(bridge, slack, twilio)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body=word)
    await slack.wait_for(lambda: "Opt-out keyword" in thread_json(slack, root), what="the keyword note")
    await settled(bridge, slack, twilio, root, 1)

    [event] = await events(bridge)
    assert (event.phone, event.action, event.source, event.scope) == (CUSTOMER, "opt_out", "keyword", "all")
    every_line = word.strip().upper() == "STOPALL"
    assert event.line_id == (None if every_line else bridge.services.lines.by_key(LINE).id)
    assert len(twilio.sent) == 1
    assert twilio.sent[0]["to"] == CUSTOMER and twilio.sent[0]["from"] == LINE
    assert twilio.sent[0]["body"].startswith("Acme:") and "unsubscribed" in twilio.sent[0]["body"]
    assert word.strip() in thread_json(slack, root)  # the keyword itself is still shown
    await slack.wait_for(lambda: "opted out" in card(slack, root), what="the card shows the opt-out")


@pytest.mark.parametrize("body", ["stop please", "Please stop texting me", "STOP 🛑", "Who is this? STOP"])
async def test_stop_request_in_words_is_raised_and_confirmed_with_its_button(bridge, slack, twilio, body):
    root = await open_thread(bridge, slack, twilio)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body=body)
    await slack.wait_for(lambda: "stop_request_confirm" in thread_json(slack, root), what="the Confirm button")
    assert "stop_request_dismiss" in thread_json(slack, root)
    assert await events(bridge) == []
    assert twilio.sent == []

    flagged = next(
        m for m in slack.thread(CHANNEL, root["ts"]) if "stop_request_confirm" in json.dumps(m.get("blocks"))
    )
    button = next(
        e
        for b in flagged["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "stop_request_confirm"
    )
    status, _ = await slack.send_action(
        bridge.events_url,
        {
            "type": "block_actions",
            "user": {"id": AGENT},
            "channel": {"id": CHANNEL},
            "container": {"type": "message", "channel_id": CHANNEL, "message_ts": flagged["ts"]},
            "message": {"ts": flagged["ts"]},
            "trigger_id": "1.2.3",
            "response_url": f"{slack.root}/response/none",
            "actions": [{**button, "block_id": "b", "action_ts": "1"}],
        },
    )
    assert status == 200
    [event] = await events(bridge)
    assert (event.action, event.source, event.actor) == ("opt_out", "request", AGENT)
    assert body.strip() in event.evidence
    await slack.wait_for(lambda: "opted out" in card(slack, root))
    await twilio.wait_for(lambda: len(twilio.sent) == 1, what="the one confirmation")
    assert "unsubscribed" in twilio.sent[0]["body"]


@pytest.mark.parametrize("word", ["START", "yes", "Unstop"])
async def test_opt_in_keyword_after_stop(bridge, slack, twilio, word):
    root = await open_thread(bridge, slack, twilio)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="STOP")
    await settled(bridge, slack, twilio, root, 1)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body=word)
    await slack.wait_for(lambda: "Opt-in keyword" in thread_json(slack, root))
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    assert [e.action for e in await events(bridge)] == ["opt_out", "lift"]
    assert twilio.sent[1]["body"].startswith("Acme:") and "resubscribed" in twilio.sent[1]["body"]
    await slack.wait_for(lambda: "opted in" in card(slack, root) or "no consent" in card(slack, root))
    assert "opted out" not in card(slack, root)


@pytest.mark.parametrize("word", ["HELP", "info"])
async def test_help_keyword_answers_help_text_even_after_stop(bridge, slack, twilio, word):
    root = await open_thread(bridge, slack, twilio)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="STOP")
    await settled(bridge, slack, twilio, root, 1)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body=word)
    await slack.wait_for(lambda: "Help keyword" in thread_json(slack, root))
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    assert twilio.sent[1]["body"] == "Acme: help@acme.example. Msg&data rates may apply. Reply STOP to opt out."
    assert [e.action for e in await events(bridge)] == ["opt_out"]  # HELP changes no consent


async def test_after_stop_an_agent_reply_is_not_sent_and_the_agent_is_told(bridge, slack, twilio):
    root = await open_thread(bridge, slack, twilio)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="STOP")
    await settled(bridge, slack, twilio, root, 1)

    await slack.user_message(
        bridge.events_url, channel=CHANNEL, user=AGENT, text="Sorry to see you go!", thread_ts=root["ts"]
    )
    await slack.wait_for(lambda: any(e["user"] == AGENT for e in slack.ephemerals), what="the agent's ephemeral")
    [ephemeral] = [e for e in slack.ephemerals if e["user"] == AGENT]
    assert "not sent" in ephemeral["text"] and "opted out" in ephemeral["text"]
    assert ephemeral["thread_ts"] == root["ts"]
    assert len(twilio.sent) == 1  # only the STOP confirmation
    reply = [m for m in await outbound(bridge) if m.origin == "slack"]
    assert [m.status for m in reply] == ["blocked"]


async def test_sms_send_to_an_opted_out_number_is_refused(bridge, slack, twilio):
    root = await open_thread(bridge, slack, twilio)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="unsubscribe")
    await settled(bridge, slack, twilio, root, 1)
    status, body = await slack.send_command(
        bridge.events_url, text=f"send {CUSTOMER} one more deal!", user_id=AGENT, channel_id=CHANNEL
    )
    assert status == 200
    assert json.loads(body)["text"].startswith(f":no_entry: Not sent: {CUSTOMER} opted out")
    assert len(twilio.sent) == 1


async def test_carrier_21610_records_an_opt_out_from_the_carrier(bridge, slack, twilio):
    twilio.set_number_error(CUSTOMER, 21610)
    status, body = await slack.send_command(
        bridge.events_url, text=f"send {CUSTOMER} hello", user_id=AGENT, channel_id=CHANNEL
    )
    assert status == 200 and "Texting" in json.loads(body)["text"]
    await slack.wait_for(
        lambda: any(m["text"].startswith(":x: Not delivered") for m in slack.messages.get(CHANNEL, []))
    )
    [event] = await events(bridge)
    assert (event.phone, event.action, event.source) == (CUSTOMER, "opt_out", "carrier")
    assert "21610" in event.evidence
    assert twilio.sent == []

    again = await slack.send_command(
        bridge.events_url, text=f"send {CUSTOMER} hello?", user_id=AGENT, channel_id=CHANNEL
    )
    assert json.loads(again[1])["text"].startswith(":no_entry: Not sent")
    consent = await slack.send_command(bridge.events_url, text=f"consent {CUSTOMER}", user_id=ADMIN, channel_id=CHANNEL)
    assert "source carrier" in json.loads(consent[1])["text"]


@pytest.mark.parametrize(
    "code,at,status",
    [
        (21211, "api", "invalid"),
        (21614, "api", "landline"),
        (30006, "callback", "landline"),
    ],
)
async def test_invalid_and_landline_errors_mark_the_number(bridge, slack, twilio, code, at, status):
    twilio.set_number_error(CUSTOMER, code, at=at)
    await slack.send_command(bridge.events_url, text=f"send {CUSTOMER} hello", user_id=AGENT, channel_id=CHANNEL)
    await slack.wait_for(
        lambda: any(m["text"].startswith(":x: Not delivered") for m in slack.messages.get(CHANNEL, []))
    )
    async with bridge.services.db.session() as session:
        contact = await session.scalar(select(Contact).where(Contact.phone == CUSTOMER))
    assert contact.number_status == status and str(code) in contact.number_status_reason
    assert await events(bridge) == []  # not an opt-out
    root = slack.roots(CHANNEL)[0]
    await slack.wait_for(lambda: f":warning: {status}" in card(slack, root), what="the card shows the number status")
