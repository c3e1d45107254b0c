"""A customer's text reaches a Slack thread; an agent's reply reaches the customer; receipts come back."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from bot.slack import outbox
from storage.models import Message
from tests.support.bridge import AGENT, CHANNEL, LINE, card_first_text, outbox_drained, root_recorded, thread_texts

CUSTOMER = "+14155550123"


async def test_inbound_opens_thread_and_reply_goes_out_as_sms(bridge, slack, twilio):
    status, body, sid = await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="Hi, is my order ready?")
    assert status == 200
    assert body.startswith("<?xml") and "<Response></Response>" in body

    await slack.wait_for(lambda: len(slack.roots(CHANNEL)) == 1)
    root = slack.roots(CHANNEL)[0]
    assert "415-555-0123" in root["text"]
    # One post: the first text travels in the root card, nothing is in the thread yet.
    assert card_first_text(slack, CHANNEL, root["ts"]) == "Hi, is my order ready?"
    assert "Hi, is my order ready?" in json.dumps(root["blocks"])
    assert slack.method_calls("chat.postMessage") and len(slack.method_calls("chat.postMessage")) == 1
    assert slack.thread(CHANNEL, root["ts"]) == []

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
    await slack.wait_for(lambda: len(slack.messages.get(CHANNEL, [])) >= 1)
    async with bridge.services.db.session() as session:
        assert await session.scalar(select(func.count(Message.id)).where(Message.carrier_sid == sid)) == 1
    texts = [m["text"] for m in slack.messages[CHANNEL]]
    assert sum("only once" in text for text in texts) == 1


async def test_a_stop_as_the_first_text_keeps_its_own_post_with_the_keyword_note(bridge, slack, twilio):
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="STOP")
    await slack.wait_for(lambda: slack.roots(CHANNEL) and slack.thread(CHANNEL, slack.roots(CHANNEL)[0]["ts"]))
    root = slack.roots(CHANNEL)[0]
    assert card_first_text(slack, CHANNEL, root["ts"]) is None and "STOP" not in json.dumps(root["blocks"])
    # The thread also gets the keyword's automatic answer once it is sent, maybe already.
    [shown] = [m for m in slack.thread(CHANNEL, root["ts"]) if not m["text"].startswith(":robot_face:")]
    assert shown["text"] == "STOP" and "Opt-out keyword" in json.dumps(shown["blocks"])


async def test_a_second_root_for_an_open_thread_posts_its_text_in_the_thread_once(bridge, slack, twilio):
    """Two roots queued for one conversation: the later one's text goes in the thread; a text Slack shows
    already (the root's own) is not posted again."""
    await twilio.send_inbound(bridge.url, from_=CUSTOMER, to=LINE, body="first")
    await slack.wait_for(lambda: slack.roots(CHANNEL))
    root = slack.roots(CHANNEL)[0]
    await root_recorded(bridge, CHANNEL, root["ts"])
    async with bridge.services.db.session() as session:
        first = await session.scalar(select(Message).where(Message.direction == "in"))
        late = Message(
            line_id=first.line_id,
            conversation_id=first.conversation_id,
            direction="in",
            phone=CUSTOMER,
            body="late",
            status=first.status,
            origin="customer",
        )
        session.add(late)
        await session.flush()
        for message_id in (first.id, late.id):
            await outbox.enqueue(
                session, channel=CHANNEL, op="post_root", conversation_id=first.conversation_id, message_id=message_id
            )
    bridge.services.wakeups.poke_outbox()
    await slack.wait_for(lambda: slack.thread(CHANNEL, root["ts"]))
    await outbox_drained(bridge)
    assert [m["text"] for m in slack.thread(CHANNEL, root["ts"])] == ["late"]
    assert len(slack.roots(CHANNEL)) == 1
    async with bridge.services.db.session() as session:
        shown = await session.get(Message, late.id)
        assert shown.slack_ts == slack.thread(CHANNEL, root["ts"])[0]["ts"]
