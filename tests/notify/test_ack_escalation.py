"""ACK by SMS, escalation after the window (ManualClock), and escalation surviving a restart."""

from __future__ import annotations

from bot.notify.escalation import escalate_due
from tests.notify.helpers import (
    ALICE,
    ALICE_PHONE,
    BOB_PHONE,
    CAROL_PHONE,
    CONFIG,
    add_people,
    api,
    auth,
    manual_clock,
    page_message,
    texts_to,
)
from tests.support.bridge import CHANNEL, LINE


async def _page(bridge, text="DB down") -> int:
    status, body, _ = await api(
        bridge, "POST", "/api/v1/notify", json={"to": "group:oncall", "text": text}, headers=auth()
    )
    assert status == 202
    return body["id"]


async def _state(bridge, notification_id: int) -> dict:
    return (await api(bridge, "GET", f"/api/v1/notifications/{notification_id}", headers=auth()))[1]


async def test_ack_by_sms_stops_escalation(make_bridge, slack, twilio):
    add_people(slack)
    clock = manual_clock()
    bridge = await make_bridge(config=CONFIG, clock=clock)
    first = await _page(bridge, "older page")
    latest = await _page(bridge)
    await twilio.wait_for(lambda: len(twilio.sent) == 4)
    await twilio.send_inbound(bridge.url, from_=ALICE_PHONE, to=LINE, body="  Ack ")
    await twilio.wait_for(lambda: any("Acknowledged page" in b for b in texts_to(twilio, ALICE_PHONE)))
    state = await _state(bridge, latest)
    assert state["status"] == "acked" and state["acknowledged"]["user"] == ALICE
    assert (await _state(bridge, first))["status"] == "open"  # only the latest open page to that number
    await slack.wait_for(
        lambda: "Acknowledged by <@U0ALICE>" in (page_message(slack, CHANNEL, latest) or {"text": ""})["text"]
    )

    await twilio.send_inbound(bridge.url, from_=BOB_PHONE, to=LINE, body="1")
    await slack.wait_for(
        lambda: "Acknowledged by <@U0BOB>" in (page_message(slack, CHANNEL, first) or {"text": ""})["text"]
    )
    clock.advance(minutes=11)
    assert await escalate_due(bridge.services) == 0
    assert texts_to(twilio, CAROL_PHONE) == []


async def test_escalates_to_next_group_after_window(make_bridge, slack, twilio):
    add_people(slack)
    clock = manual_clock()
    bridge = await make_bridge(config=CONFIG, clock=clock)
    page = await _page(bridge)
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    clock.advance(minutes=9)
    assert await escalate_due(bridge.services) == 0
    clock.advance(minutes=2)
    await twilio.wait_for(lambda: len(texts_to(twilio, CAROL_PHONE)) == 1)
    assert texts_to(twilio, CAROL_PHONE)[0].startswith("[ESCALATED from oncall] DB down")
    state = await _state(bridge, page)
    assert state["escalated"]["to"] == "leads" and len(state["escalated"]["notifications"]) == 1
    await slack.wait_for(lambda: "escalated to *leads*" in (page_message(slack, CHANNEL, page) or {"text": ""})["text"])
    child = state["escalated"]["notifications"][0]
    await slack.wait_for(lambda: page_message(slack, CHANNEL, child) is not None)
    # Carol's ACK closes the whole chain.
    await twilio.send_inbound(bridge.url, from_=CAROL_PHONE, to=LINE, body="ACK")
    await slack.wait_for(lambda: "Acknowledged by <@U0CAROL>" in page_message(slack, CHANNEL, child)["text"])
    assert (await _state(bridge, page))["status"] == "acked"
    assert len(texts_to(twilio, ALICE_PHONE)) == 1


async def test_escalation_survives_restart(make_bridge, slack, twilio):
    add_people(slack)
    clock = manual_clock()
    bridge = await make_bridge(config=CONFIG, clock=clock)
    page = await _page(bridge)
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    await bridge.restart()
    clock.advance(minutes=10)
    await twilio.wait_for(lambda: len(texts_to(twilio, CAROL_PHONE)) == 1)
    assert (await _state(bridge, page))["escalated"]["to"] == "leads"
    await bridge.restart()
    clock.advance(minutes=30)
    assert await escalate_due(bridge.services) == 0  # leads has no next group; nothing twice
    assert len(texts_to(twilio, CAROL_PHONE)) == 1
