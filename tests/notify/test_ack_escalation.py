"""Page answers by SMS (ACK, ACK 12, 1, RESOLVE 12), escalation after the window (ManualClock), and escalation
surviving a restart."""

from __future__ import annotations

from bot.notify.escalation import escalate_due
from tests.notify.helpers import (
    ALICE,
    ALICE_PHONE,
    BOB,
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


async def test_bare_ack_with_two_open_pages_asks_which(make_bridge, slack, twilio):
    """The bug: a bare "ack" from Bob acknowledged his newest page while the older one went on escalating."""
    add_people(slack)
    clock = manual_clock()
    bridge = await make_bridge(config=CONFIG, clock=clock)
    older = await _page(bridge, "older page")
    newer = await _page(bridge)
    await twilio.wait_for(lambda: len(twilio.sent) == 4)
    assert texts_to(twilio, BOB_PHONE) == [
        f"Page {older}: older page\nReply ACK {older}",
        f"Page {newer}: DB down\nReply ACK {newer}",
    ]

    await twilio.send_inbound(bridge.url, from_=BOB_PHONE, to=LINE, body="ack")
    await twilio.wait_for(lambda: len(texts_to(twilio, BOB_PHONE)) == 3)
    question = texts_to(twilio, BOB_PHONE)[2]
    assert question.startswith("You have 2 open pages") and f"ACK {older}" in question
    assert (await _state(bridge, older))["status"] == "open"
    assert (await _state(bridge, newer))["status"] == "open"

    await twilio.send_inbound(bridge.url, from_=BOB_PHONE, to=LINE, body=f"ACK {older}")
    await twilio.wait_for(lambda: len(texts_to(twilio, BOB_PHONE)) == 4)
    assert texts_to(twilio, BOB_PHONE)[3] == f"Acknowledged page {older}. Thank you."
    state = await _state(bridge, older)
    assert state["status"] == "acked" and state["acknowledged"]["user"] == BOB
    assert (await _state(bridge, newer))["status"] == "open"
    await slack.wait_for(
        lambda: "Acknowledged by <@U0BOB>" in (page_message(slack, CHANNEL, older) or {"text": ""})["text"]
    )

    # One open page left: a bare "1" acknowledges it.
    await twilio.send_inbound(bridge.url, from_=ALICE_PHONE, to=LINE, body=" 1 ")
    await twilio.wait_for(lambda: f"Acknowledged page {newer}. Thank you." in texts_to(twilio, ALICE_PHONE))
    assert (await _state(bridge, newer))["acknowledged"]["user"] == ALICE
    clock.advance(minutes=11)
    assert await escalate_due(bridge.services) == 0
    assert texts_to(twilio, CAROL_PHONE) == []
    # Nothing of this is a customer conversation: the channel holds the two page messages only.
    assert len(slack.roots(CHANNEL)) == 2


async def test_resolve_by_sms_and_answers_that_change_nothing(make_bridge, slack, twilio):
    add_people(slack)
    bridge = await make_bridge(config=CONFIG)
    page = await _page(bridge)
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    for body, expected in (
        ("ACK 999", "There is no page 999."),
        ("on my way", f"Not understood. Reply ACK {page} to acknowledge page {page}, or RESOLVE {page} to resolve it."),
        (f"resolve #{page}!", f"Resolved page {page}. Thank you."),
        (f"ACK {page}", f"Page {page} is already resolved."),
        ("ack", "No page of yours is open to acknowledge."),
    ):
        count = len(texts_to(twilio, ALICE_PHONE))
        await twilio.send_inbound(bridge.url, from_=ALICE_PHONE, to=LINE, body=body)
        await twilio.wait_for(lambda count=count: len(texts_to(twilio, ALICE_PHONE)) == count + 1)
        assert texts_to(twilio, ALICE_PHONE)[-1] == expected
    state = await _state(bridge, page)
    assert state["status"] == "resolved" and state["acknowledged"] is None and state["resolved"]["by"] == ALICE
    await slack.wait_for(lambda: "Resolved by <@U0ALICE>" in page_message(slack, CHANNEL, page)["text"])
    message = page_message(slack, CHANNEL, page)
    assert not [b for b in message["blocks"] if b["type"] == "actions"]  # no buttons on a resolved page
    assert len(slack.roots(CHANNEL)) == 1


async def test_ack_from_a_number_not_in_the_team_is_a_customer_text(make_bridge, slack, twilio):
    add_people(slack)
    bridge = await make_bridge(config=CONFIG)
    page = await _page(bridge)
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    await twilio.send_inbound(bridge.url, from_="+14155550999", to=LINE, body="ACK")
    await slack.wait_for(lambda: len(slack.roots(CHANNEL)) == 2)  # the page, and the customer's conversation card
    assert (await _state(bridge, page))["status"] == "open"
    assert texts_to(twilio, "+14155550999") == []


async def test_escalates_to_next_group_after_window(make_bridge, slack, twilio):
    """The older `[notify] escalation` table: oncall, then leads after `escalation_minutes`, on the same page."""
    add_people(slack)
    clock = manual_clock()
    bridge = await make_bridge(config=CONFIG, clock=clock)
    page = await _page(bridge)
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    clock.advance(minutes=9)
    assert await escalate_due(bridge.services) == 0
    clock.advance(minutes=2)
    await twilio.wait_for(lambda: len(texts_to(twilio, CAROL_PHONE)) == 1)
    assert texts_to(twilio, CAROL_PHONE)[0] == f"Page {page}: DB down\nReply ACK {page}"
    state = await _state(bridge, page)
    assert state["step"] == 2 and [r["step"] for r in state["recipients"]] == [1, 1, 2]
    await slack.wait_for(
        lambda: "*Step 2* (group:leads" in (page_message(slack, CHANNEL, page) or {"text": ""})["text"]
    )
    # Carol's ACK closes the page.
    await twilio.send_inbound(bridge.url, from_=CAROL_PHONE, to=LINE, body="ACK")
    await slack.wait_for(lambda: "Acknowledged by <@U0CAROL>" in page_message(slack, CHANNEL, page)["text"])
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
    assert (await _state(bridge, page))["step"] == 2
    await bridge.restart()
    clock.advance(minutes=30)
    assert await escalate_due(bridge.services) == 0  # leads is the last step; nothing twice
    assert len(texts_to(twilio, CAROL_PHONE)) == 1


async def test_keywords_from_a_team_member_still_work(make_bridge, slack, twilio):
    """STOP is an opt-out from any number: a team member's STOP is not read as a page answer."""
    add_people(slack)
    bridge = await make_bridge(config=CONFIG)
    page = await _page(bridge)
    await twilio.wait_for(lambda: len(twilio.sent) == 2)
    await twilio.send_inbound(bridge.url, from_=BOB_PHONE, to=LINE, body="STOP")
    await twilio.wait_for(lambda: len(texts_to(twilio, BOB_PHONE)) == 2)
    assert "unsubscribed" in texts_to(twilio, BOB_PHONE)[1].lower()
    assert (await _state(bridge, page))["status"] == "open"
    second = await _page(bridge, "again")
    await twilio.wait_for(lambda: len(texts_to(twilio, ALICE_PHONE)) == 2)
    bob = next(r for r in (await _state(bridge, second))["recipients"] if r["user"] == BOB)
    assert bob["state"] == "blocked"
