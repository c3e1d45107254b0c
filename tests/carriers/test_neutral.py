"""The carrier-neutral paths, run on each carrier: a P2P round trip, a keyword, a campaign, a page, a transactional
text through the API, and two carriers in one process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select

from bot.clock import ManualClock
from storage.models import ConsentEvent, Message
from tests.campaigns.helpers import add_contacts, create_and_approve
from tests.support.bridge import A2P_CHANNEL, A2P_LINE, AGENT, CHANNEL, LINE

CUSTOMER = "+14155550188"


async def test_p2p_round_trip(carrier_bridge, slack, phone):
    status, _, _ = await phone.send_inbound(carrier_bridge.url, from_=CUSTOMER, to=LINE, body="Is it open?")
    assert status == 200
    await slack.wait_for(lambda: slack.roots(CHANNEL))
    root = slack.roots(CHANNEL)[0]
    await slack.user_message(carrier_bridge.events_url, channel=CHANNEL, user=AGENT, text="Yes!", thread_ts=root["ts"])
    await phone.wait_for(lambda: len(phone.sent) == 1)
    assert (phone.sent[0]["to"], phone.sent[0]["from"], phone.sent[0]["body"]) == (CUSTOMER, LINE, "Yes!")
    agent_post = slack.thread(CHANNEL, root["ts"])[-1]
    await slack.wait_for(lambda: "white_check_mark" in slack.message(CHANNEL, agent_post["ts"])["reactions"])


async def test_stop_keyword_opts_out_and_answers(carrier_bridge, slack, phone):
    await phone.send_inbound(carrier_bridge.url, from_=CUSTOMER, to=LINE, body="STOP")
    await phone.wait_for(lambda: len(phone.sent) == 1)
    assert phone.sent[0]["to"] == CUSTOMER and "unsubscribed" in phone.sent[0]["body"]
    async with carrier_bridge.services.db.session() as session:
        [event] = (await session.scalars(select(ConsentEvent))).all()
    assert (event.phone, event.action, event.source) == (CUSTOMER, "opt_out", "keyword")


async def test_a_campaign_is_sent_through_the_line_s_carrier(make_bridge, carrier_name, slack, phone, telnyx):
    # 14:00 UTC: inside New York's quiet-hours window, so nothing is deferred.
    bridge = await make_bridge(
        telnyx=telnyx, env={"SMS_PROVIDER": carrier_name}, clock=ManualClock(datetime(2030, 6, 3, 14, 0, tzinfo=UTC))
    )
    people = ["+12125550101", "+12125550102"]
    await add_contacts(bridge, [{"phone": p, "first_name": "Ann", "tags": ["vip"], "consent": "in"} for p in people])
    await create_and_approve(slack, bridge, 'name="Sale" to=tag:vip at=now text=Hi {first_name}, sale today')
    await phone.wait_for(lambda: len(phone.sent) == 2, timeout=15)
    assert sorted(s["to"] for s in phone.sent) == people
    assert all(s["from"] == A2P_LINE and s["body"].startswith("Hi Ann, sale today") for s in phone.sent)


async def test_lines_of_two_carriers_are_served_by_one_process(make_bridge, slack, twilio, telnyx):
    from tests.support.bridge import DEFAULT_CONFIG

    config = DEFAULT_CONFIG.replace(f'number = "{A2P_LINE}"', f'number = "{A2P_LINE}"\ncarrier = "telnyx"')
    bridge = await make_bridge(telnyx=telnyx, config=config)
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="via twilio")
    status, _, _ = await telnyx.send_inbound(bridge.url, from_=CUSTOMER, to=A2P_LINE, body="via telnyx")
    assert status == 200
    await slack.wait_for(lambda: slack.roots(CHANNEL) and slack.roots(A2P_CHANNEL))
    for channel, text in ((CHANNEL, "to twilio"), (A2P_CHANNEL, "to telnyx")):
        root = slack.roots(channel)[0]
        await slack.user_message(bridge.events_url, channel=channel, user=AGENT, text=text, thread_ts=root["ts"])
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    await telnyx.wait_for(lambda: len(telnyx.sent) == 1)
    assert (twilio.sent[0]["from"], twilio.sent[0]["body"]) == (LINE, "to twilio")
    assert (telnyx.sent[0]["from"], telnyx.sent[0]["body"]) == (A2P_LINE, "to telnyx")
    for _ in range(200):  # the carrier has a text a moment before the bridge records its id
        async with bridge.services.db.session() as session:
            rows = await session.execute(select(Message.body, Message.carrier_sid).where(Message.direction == "out"))
            sids = dict(rows.tuples().all())
        if len(sids) == 2 and all(sids.values()):
            break
        await asyncio.sleep(0.05)
    assert sids["to telnyx"] == telnyx.sent[0]["id"] and sids["to twilio"].startswith("SM")


async def test_a_page_goes_out_and_is_acknowledged_by_sms(make_bridge, carrier_name, slack, phone, telnyx):
    from tests.notify.helpers import ALICE_PHONE, BOB_PHONE, CONFIG, add_people, api, auth

    add_people(slack)
    bridge = await make_bridge(config=CONFIG, telnyx=telnyx, env={"SMS_PROVIDER": carrier_name})
    status, body, _ = await api(
        bridge, "POST", "/api/v1/notify", json={"to": "group:oncall", "text": "DB down"}, headers=auth()
    )
    assert status == 202
    page = body["id"]
    await phone.wait_for(lambda: {s["to"] for s in phone.sent} == {ALICE_PHONE, BOB_PHONE})
    assert all("DB down" in s["body"] for s in phone.sent)
    await phone.send_inbound(bridge.url, from_=ALICE_PHONE, to=LINE, body=f"ACK {page}")
    await phone.wait_for(lambda: any(s["body"].startswith(f"Acknowledged page {page}") for s in phone.sent))
    state = (await api(bridge, "GET", f"/api/v1/notifications/{page}", headers=auth()))[1]
    assert state["status"] == "acked"


async def test_a_transactional_text_through_the_api(make_bridge, carrier_name, slack, phone, telnyx):
    from tests.api.helpers import call, config, make_key
    from tests.api.test_messages import wait_status

    bridge = await make_bridge(config=config(), telnyx=telnyx, env={"SMS_PROVIDER": carrier_name})
    key = await make_key(bridge)
    status, answer, _ = await call(
        bridge, "POST", "/api/v1/messages", token=key.token, json_body={"to": CUSTOMER, "text": "Order 7 shipped"}
    )
    assert status == 202
    await phone.wait_for(lambda: len(phone.sent) == 1)
    assert (phone.sent[0]["to"], phone.sent[0]["from"], phone.sent[0]["body"]) == (CUSTOMER, LINE, "Order 7 shipped")
    state = await wait_status(bridge, key.token, answer["id"], "delivered")
    assert state["error"] is None and state["delivered_at"]
