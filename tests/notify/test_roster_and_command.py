"""Roster and `/sms notify`: numbers from the roster or the Slack profile, opt-outs reported, status in place."""

from __future__ import annotations

import json

from bot.compliance import consent
from tests.notify.helpers import ALICE, ALICE_PHONE, BOB, BOB_PHONE, CONFIG, add_people, page_message, texts_to
from tests.support.bridge import ADMIN, AGENT, CHANNEL, STRANGER


def _text(body: str) -> str:
    try:
        return json.loads(body).get("text", body)
    except ValueError:
        return body


async def test_notify_group_uses_profile_phones(make_bridge, slack, twilio):
    add_people(slack)
    bridge = await make_bridge(config=CONFIG)
    status, body = await slack.send_command(
        bridge.events_url, text="notify oncall Server room is flooding", user_id=AGENT, channel_id=CHANNEL
    )
    assert status == 200
    assert "page #1" in _text(body)
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    assert texts_to(twilio, ALICE_PHONE) == ["Page 1: Server room is flooding\nReply ACK 1"]
    assert len(texts_to(twilio, BOB_PHONE)) == 1
    await slack.wait_for(
        lambda: (m := page_message(slack, CHANNEL, 1)) is not None and m["text"].count("delivered") == 2
    )
    message = page_message(slack, CHANNEL, 1)
    assert f"<@{AGENT}>" in message["text"] and message["edited"]


async def test_team_add_overrides_profile_and_needs_admin(make_bridge, slack, twilio):
    add_people(slack, bob_phone="")
    bridge = await make_bridge(config=CONFIG)
    _, body = await slack.send_command(
        bridge.events_url, text=f"team add <@{BOB}|bob> +1 415 555 0177 db", user_id=STRANGER, channel_id=CHANNEL
    )
    assert "Only admins" in _text(body)
    _, body = await slack.send_command(
        bridge.events_url, text="team add <@U0DAVE> 12345", user_id=ADMIN, channel_id=CHANNEL
    )
    assert "'12345'" in _text(body)
    # A name Slack did not resolve into a mention is refused by name, and nothing is stored.
    _, body = await slack.send_command(
        bridge.events_url, text="team add @lead +1 415 555 0177", user_id=ADMIN, channel_id=CHANNEL
    )
    assert "'@lead' is plain text, not a mention" in _text(body) and "Nothing was changed" in _text(body)
    _, body = await slack.send_command(
        bridge.events_url, text="team add <@U0DAVE +1 415 555 0177", user_id=ADMIN, channel_id=CHANNEL
    )
    assert "malformed mention" in _text(body)
    _, body = await slack.send_command(
        bridge.events_url, text=f"team add <@{BOB}|bob> +1 415 555 0177 db", user_id=ADMIN, channel_id=CHANNEL
    )
    assert "+14155550177" in _text(body) and "*db*" in _text(body)
    _, body = await slack.send_command(bridge.events_url, text="team list", user_id=ADMIN, channel_id=CHANNEL)
    listing = _text(body)
    assert "*oncall*" in listing and "*db*" in listing and "escalates to *leads*" in listing

    await slack.send_command(bridge.events_url, text="notify db disk full", user_id=AGENT, channel_id=CHANNEL)
    await slack.send_command(
        bridge.events_url, text=f"notify <@{ALICE}|alice> hello", user_id=AGENT, channel_id=CHANNEL
    )
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    assert texts_to(twilio, "+14155550177") == ["Page 1: disk full\nReply ACK 1"]
    assert texts_to(twilio, ALICE_PHONE) == ["Page 2: hello\nReply ACK 2"]


async def test_opted_out_member_is_reported_not_texted(make_bridge, slack, twilio):
    add_people(slack)
    carol_without_phone = "U0NOPHONE"
    slack.add_user(carol_without_phone, real_name="No Phone")
    bridge = await make_bridge(config=CONFIG)
    async with bridge.services.db.session() as session:
        await consent.record(session, phone=BOB_PHONE, action="opt_out", source="keyword", evidence="STOP")
    _, body = await slack.send_command(
        bridge.events_url, text="notify oncall deploy frozen", user_id=AGENT, channel_id=CHANNEL
    )
    assert "page #1" in _text(body)
    await slack.wait_for(lambda: (m := page_message(slack, CHANNEL, 1)) is not None and "delivered" in m["text"])
    text = page_message(slack, CHANNEL, 1)["text"]
    assert f"<@{BOB}>" in text and "blocked" in text and "opted out" in text
    assert [m["to"] for m in twilio.sent] == [ALICE_PHONE]

    _, body = await slack.send_command(
        bridge.events_url, text=f"notify <@{carol_without_phone}> hi", user_id=AGENT, channel_id=CHANNEL
    )
    await slack.wait_for(lambda: page_message(slack, CHANNEL, 2) is not None)
    assert "no phone" in page_message(slack, CHANNEL, 2)["text"]
    _, body = await slack.send_command(
        bridge.events_url, text="notify nosuchgroup hi", user_id=AGENT, channel_id=CHANNEL
    )
    assert "unknown group 'nosuchgroup'" in _text(body)
    assert len(twilio.sent) == 1
