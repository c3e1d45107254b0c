"""A customer's text reaches a Slack thread; an agent's reply reaches the customer; receipts come back."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.models import Message
from tests.support.bridge import AGENT, CHANNEL, LINE, thread_texts

CUSTOMER = "+14155550123"


async def test_inbound_opens_thread_and_reply_goes_out_as_sms(bridge, slack, twilio):
    status, body, sid = await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="Hi, is my order ready?")
    assert status == 200
    assert body.startswith("<?xml") and "<Response></Response>" in body

    await slack.wait_for(
        lambda: len(slack.roots(CHANNEL)) == 1 and slack.thread(CHANNEL, slack.roots(CHANNEL)[0]["ts"])
    )
    root = slack.roots(CHANNEL)[0]
    assert "415-555-0123" in root["text"]
    replies = slack.thread(CHANNEL, root["ts"])
    assert replies[0]["text"] == "Hi, is my order ready?"

    await slack.user_message(
        bridge.events_url, channel=CHANNEL, user=AGENT, text="Yes, ready for pickup!", thread_ts=root["ts"]
    )
    await twilio.wait_for(lambda: len(twilio.sent) == 1)
    sent = twilio.sent[0]
    assert (sent["to"], sent["from"], sent["body"]) == (CUSTOMER, LINE, "Yes, ready for pickup!")
    async with bridge.services.db.session() as session:
        message_id = await session.scalar(select(Message.id).where(Message.direction == "out"))
    # The callback names the bridge's own message: a receipt settles a send whose answer from Twilio was lost.
    assert sent["status_callback"] == f"{bridge.url}/sms/twilio/status?m={message_id}"

    agent_message = slack.thread(CHANNEL, root["ts"])[-1]
    await slack.wait_for(lambda: "white_check_mark" in slack.message(CHANNEL, agent_message["ts"])["reactions"])


async def test_second_text_goes_to_the_same_thread(bridge, slack, twilio):
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="first")
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="second")
    await slack.wait_for(
        lambda: slack.roots(CHANNEL) and len(thread_texts(slack, CHANNEL, slack.roots(CHANNEL)[0]["ts"])) == 2
    )
    roots = slack.roots(CHANNEL)
    assert len(roots) == 1
    assert thread_texts(slack, CHANNEL, roots[0]["ts"]) == ["first", "second"]


async def test_duplicate_webhook_posts_once(bridge, slack, twilio):
    _, _, sid = await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="only once")
    status, _, _ = await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="only once", message_sid=sid)
    assert status == 200
    await slack.wait_for(lambda: len(slack.messages.get(CHANNEL, [])) >= 2)
    async with bridge.services.db.session() as session:
        assert await session.scalar(select(func.count(Message.id)).where(Message.carrier_sid == sid)) == 1
    texts = [m["text"] for m in slack.messages[CHANNEL]]
    assert texts.count("only once") == 1
